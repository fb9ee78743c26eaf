// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @title IERC3009Receive
/// @notice The EIP-3009 `receiveWithAuthorization` entry points {ComputeRental} calls: the (v, r, s) form every
/// USDC version and OpenZeppelin's ERC3009 have, and the `bytes signature` form of USDC v2.2 (ERC-1271 wallets).
interface IERC3009Receive {
    /// @notice Pulls `value` from `from` to `to` (which must be the caller) with `from`'s signature.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Same, with the signature as bytes (ECDSA or ERC-1271).
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external;
}
