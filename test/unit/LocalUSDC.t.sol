// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {LocalUSDC} from "../../contracts/test/LocalUSDC.sol";

contract LocalUSDCTest is Test {
    LocalUSDC internal usdc;
    address internal alice;
    uint256 internal aliceKey;
    address internal bob = makeAddr("bob");

    bytes32 internal constant TRANSFER_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    bytes32 internal constant CANCEL_TYPEHASH = keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    function setUp() public {
        usdc = new LocalUSDC();
        (alice, aliceKey) = makeAddrAndKey("alice");
        usdc.mint(alice, 1_000e6);
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
    }

    function test_metadata_looksLikeUsdc() public view {
        assertEq(usdc.name(), "USD Coin", "name");
        assertEq(usdc.symbol(), "USDC", "symbol");
        assertEq(usdc.decimals(), 6, "decimals");
        assertEq(usdc.version(), "2", "version");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = usdc.eip712Domain();
        assertEq(name, "USD Coin", "domain name");
        assertEq(version, "2", "domain version");
        assertEq(chainId, 31337, "chain");
        assertEq(verifying, address(usdc), "verifying contract");
    }

    function test_RevertWhen_mint_notMinter() public {
        vm.expectRevert(abi.encodeWithSelector(LocalUSDC.LocalUSDCUnauthorizedMinter.selector, bob));
        vm.prank(bob);
        usdc.mint(bob, 1);
    }

    function test_RevertWhen_mint_notLocalChain() public {
        vm.chainId(1);
        vm.expectRevert(abi.encodeWithSelector(LocalUSDC.LocalUSDCNotLocalChain.selector, 1));
        usdc.mint(bob, 1);
    }

    function test_permit_approves() public {
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, alice, bob, 5e6, 0, block.timestamp));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, _digest(structHash));
        usdc.permit(alice, bob, 5e6, block.timestamp, v, r, s);
        assertEq(usdc.allowance(alice, bob), 5e6, "allowance");
        assertEq(usdc.nonces(alice), 1, "nonce");
    }

    function test_RevertWhen_permit_expiredOrWrongSigner() public {
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, alice, bob, 5e6, 0, block.timestamp));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, _digest(structHash));
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(LocalUSDC.ERC2612ExpiredSignature.selector, block.timestamp - 1));
        usdc.permit(alice, bob, 5e6, block.timestamp - 1, v, r, s);
        vm.expectRevert(); // signer recovered from a different digest is not alice
        usdc.permit(alice, bob, 6e6, block.timestamp - 1 + 100, v, r, s);
    }

    function test_transferWithAuthorization_vrsAndBytes() public {
        bytes32 nonce = keccak256("n1");
        bytes32 structHash = keccak256(abi.encode(TRANSFER_TYPEHASH, alice, bob, 7e6, 0, 1e12, nonce));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, _digest(structHash));
        usdc.transferWithAuthorization(alice, bob, 7e6, 0, 1e12, nonce, v, r, s);
        assertEq(usdc.balanceOf(bob), 7e6, "vrs transfer");

        nonce = keccak256("n2");
        structHash = keccak256(abi.encode(TRANSFER_TYPEHASH, alice, bob, 3e6, 0, 1e12, nonce));
        (v, r, s) = vm.sign(aliceKey, _digest(structHash));
        usdc.transferWithAuthorization(alice, bob, 3e6, 0, 1e12, nonce, abi.encodePacked(r, s, v));
        assertEq(usdc.balanceOf(bob), 10e6, "bytes transfer");
        assertTrue(usdc.authorizationState(alice, nonce), "used");

        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        usdc.transferWithAuthorization(alice, bob, 4e6, 0, 1e12, keccak256("n3"), abi.encodePacked(r, s, v));
    }

    function test_receiveWithAuthorization_bytesRequiresCallerIsPayee() public {
        bytes32 nonce = keccak256("r1");
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
                ),
                alice,
                bob,
                1e6,
                0,
                1e12,
                nonce
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, _digest(structHash));
        vm.expectRevert();
        usdc.receiveWithAuthorization(alice, bob, 1e6, 0, 1e12, nonce, abi.encodePacked(r, s, v));
        vm.prank(bob);
        usdc.receiveWithAuthorization(alice, bob, 1e6, 0, 1e12, nonce, abi.encodePacked(r, s, v));
        assertEq(usdc.balanceOf(bob), 1e6, "received");
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        vm.prank(bob);
        usdc.receiveWithAuthorization(alice, bob, 2e6, 0, 1e12, nonce, abi.encodePacked(r, s, v));
    }

    function test_cancelAuthorization_bytes() public {
        bytes32 nonce = keccak256("c1");
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(aliceKey, _digest(keccak256(abi.encode(CANCEL_TYPEHASH, alice, nonce))));
        usdc.cancelAuthorization(alice, nonce, abi.encodePacked(r, s, v));
        assertTrue(usdc.authorizationState(alice, nonce), "cancelled");
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        usdc.cancelAuthorization(alice, keccak256("c2"), abi.encodePacked(r, s, v));
    }
}
