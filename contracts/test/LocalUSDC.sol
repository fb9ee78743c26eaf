// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title LocalUSDC
/// @notice A USDC look-alike for local chains only: name "USD Coin", symbol "USDC", 6 decimals, EIP-712 domain
/// version "2" (like Circle's FiatToken), EIP-2612 `permit` and EIP-3009 transfer/receive/cancel with
/// authorization, in both the (v, r, s) and the `bytes signature` (USDC v2.2, ERC-1271) forms. EIP-3009 nonces
/// are random 32-byte values, as with real USDC.
/// @dev OpenZeppelin's ERC20Permit hard-codes EIP-712 version "1", so `permit` is implemented here on the shared
/// "USD Coin" / "2" domain. Minting is only possible for the deployer on chain 31337 (anvil).
contract LocalUSDC is ERC20, EIP712, ERC3009, Nonces, IERC20Permit {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    /// @notice The only chain where minting works.
    uint256 public constant LOCAL_CHAIN_ID = 31337;

    /// @notice The deployer, the only account allowed to mint.
    address public immutable minter;

    /// @notice `caller` is not the minter.
    error LocalUSDCUnauthorizedMinter(address caller);
    /// @notice Minting is disabled on chain `chainId` (only 31337).
    error LocalUSDCNotLocalChain(uint256 chainId);
    /// @notice The permit's deadline passed.
    error ERC2612ExpiredSignature(uint256 deadline);
    /// @notice The permit was signed by `signer`, not `owner`.
    error ERC2612InvalidSigner(address signer, address owner);

    constructor() ERC20("USD Coin", "USDC") EIP712("USD Coin", "2") {
        minter = msg.sender;
    }

    /// @notice USDC's 6 decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice The EIP-712 domain version, "2" like USDC (x402 clients read it).
    function version() external pure returns (string memory) {
        return "2";
    }

    /// @notice Mints `amount` to `to`. Only the deployer, only on chain 31337.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert LocalUSDCUnauthorizedMinter(msg.sender);
        if (block.chainid != LOCAL_CHAIN_ID) revert LocalUSDCNotLocalChain(block.chainid);
        _mint(to, amount);
    }

    /// @inheritdoc IERC20Permit
    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        if (block.timestamp > deadline) revert ERC2612ExpiredSignature(deadline);
        bytes32 hash =
            _hashTypedDataV4(keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline)));
        address signer = ECDSA.recover(hash, v, r, s);
        if (signer != owner) revert ERC2612InvalidSigner(signer, owner);
        _approve(owner, spender, value);
    }

    /// @inheritdoc IERC20Permit
    function nonces(address owner) public view override(IERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @inheritdoc IERC20Permit
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice {transferWithAuthorization} with a `bytes` signature (ECDSA or ERC-1271), as in USDC v2.2.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external {
        bytes32 hash = _hashTypedDataV4(
            keccak256(abi.encode(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce))
        );
        if (!SignatureChecker.isValidSignatureNow(from, hash, signature)) revert ERC3009InvalidSignature();
        _transferWithAuthorization(from, to, value, validAfter, validBefore, nonce);
    }

    /// @notice {receiveWithAuthorization} with a `bytes` signature (ECDSA or ERC-1271), as in USDC v2.2.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external {
        bytes32 hash = _hashTypedDataV4(
            keccak256(abi.encode(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce))
        );
        if (!SignatureChecker.isValidSignatureNow(from, hash, signature)) revert ERC3009InvalidSignature();
        if (to != msg.sender) revert ERC20InvalidReceiver(to);
        _transferWithAuthorization(from, to, value, validAfter, validBefore, nonce);
    }

    /// @notice {cancelAuthorization} with a `bytes` signature (ECDSA or ERC-1271), as in USDC v2.2.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) external {
        bytes32 hash = _hashTypedDataV4(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)));
        if (!SignatureChecker.isValidSignatureNow(authorizer, hash, signature)) revert ERC3009InvalidSignature();
        _cancelAuthorization(authorizer, nonce);
    }
}
