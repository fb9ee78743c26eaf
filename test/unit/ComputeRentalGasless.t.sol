// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {ComputeFixture} from "./ComputeFixture.sol";
import {IComputeRental} from "../../contracts/interfaces/IComputeRental.sol";

contract ComputeRentalGaslessTest is ComputeFixture {
    bytes32 internal constant RECEIVE_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    address internal relayer = makeAddr("relayer");
    bytes32 internal constant SALT = bytes32(uint256(0xabc));

    function _signReceive(uint256 key, address from, uint256 value, bytes32 nonce, uint256 validBefore)
        internal
        view
        returns (bytes memory)
    {
        bytes32 structHash =
            keccak256(abi.encode(RECEIVE_TYPEHASH, from, address(rental), value, 0, validBefore, nonce));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _gaslessCreate(uint256 gpus, uint256 hours_) internal returns (uint256 id) {
        uint256 cost = USDC_RATE * gpus * hours_;
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, hours_, SSH_KEY, gpus, SALT);
        bytes memory sig = _signReceive(renterKey, renter, cost, nonce, block.timestamp + 1 hours);
        vm.prank(relayer);
        id = rental.createSessionWithAuthorization(
            provider, hours_, SSH_KEY, gpus, renter, 0, block.timestamp + 1 hours, SALT, sig
        );
    }

    function test_sessionAuthorizationNonce_bindsTerms() public view {
        assertEq(
            rental.sessionAuthorizationNonce(provider, 24, SSH_KEY, 2, SALT),
            keccak256(abi.encode(provider, uint256(24), keccak256(bytes(SSH_KEY)), uint256(2), SALT)),
            "nonce formula"
        );
    }

    function test_createSessionWithAuthorization_sessionBelongsToSigner() public {
        uint256 before = usdc.balanceOf(renter);
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionCreated(1, renter, provider, address(usdc), USDC_RATE, 2, 3, USDC_RATE * 6, SSH_KEY);
        uint256 id = _gaslessCreate(2, 3);
        assertEq(rental.getSession(id).renter, renter, "renter is the signer, not the relayer");
        assertEq(before - usdc.balanceOf(renter), USDC_RATE * 6, "exact cost pulled");
        assertEq(usdc.balanceOf(address(rental)), USDC_RATE * 6, "escrowed");
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, 3, SSH_KEY, 2, SALT);
        assertTrue(usdc.authorizationState(renter, nonce), "authorization consumed");
    }

    function test_createSessionWithAuthorization_erc1271WalletUsesBytesOverload() public {
        // A smart-wallet renter: its signature is not 65 bytes, so it goes through `bytes` receiveWithAuthorization.
        (address owner, uint256 ownerKey) = makeAddrAndKey("wallet-owner");
        Erc1271Wallet wallet = new Erc1271Wallet(owner);
        usdc.mint(address(wallet), 100e6);
        uint256 cost = USDC_RATE;
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, 1, SSH_KEY, 1, SALT);
        bytes32 structHash =
            keccak256(abi.encode(RECEIVE_TYPEHASH, address(wallet), address(rental), cost, 0, 1e12, nonce));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, digest);
        vm.prank(relayer);
        uint256 id = rental.createSessionWithAuthorization(
            provider, 1, SSH_KEY, 1, address(wallet), 0, 1e12, SALT, abi.encode(r, s, v)
        );
        assertEq(rental.getSession(id).renter, address(wallet), "wallet is the renter");
        assertEq(usdc.balanceOf(address(wallet)), 100e6 - cost, "pulled from the wallet");
    }

    function test_RevertWhen_createSessionWithAuthorization_relayerChangesTerms() public {
        uint256 cost = USDC_RATE * 2 * 3;
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, 3, SSH_KEY, 2, SALT);
        bytes memory sig = _signReceive(renterKey, renter, cost, nonce, 1e12);
        // Same cost (2 GPUs × 3 h == 3 GPUs × 2 h) but different terms: the nonce differs, so the signature fails.
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        vm.prank(relayer);
        rental.createSessionWithAuthorization(provider, 2, SSH_KEY, 3, renter, 0, 1e12, SALT, sig);
        // A different ssh key (relayer swaps in its own) fails too.
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        vm.prank(relayer);
        rental.createSessionWithAuthorization(provider, 3, "ssh-ed25519 EVIL", 2, renter, 0, 1e12, SALT, sig);
    }

    function test_RevertWhen_createSessionWithAuthorization_replayed() public {
        _gaslessCreate(1, 1);
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, 1, SSH_KEY, 1, SALT);
        bytes memory sig = _signReceive(renterKey, renter, USDC_RATE, nonce, block.timestamp + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(ERC3009.ERC3009UsedAuthorization.selector, renter, nonce));
        vm.prank(relayer);
        rental.createSessionWithAuthorization(provider, 1, SSH_KEY, 1, renter, 0, block.timestamp + 1 hours, SALT, sig);
    }

    function test_RevertWhen_createSessionWithAuthorization_expired() public {
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, 1, SSH_KEY, 1, SALT);
        bytes memory sig = _signReceive(renterKey, renter, USDC_RATE, nonce, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(ERC3009.ERC3009InvalidAuthorizationTime.selector, 0, block.timestamp));
        vm.prank(relayer);
        rental.createSessionWithAuthorization(provider, 1, SSH_KEY, 1, renter, 0, block.timestamp, SALT, sig);
    }

    function test_RevertWhen_createSessionWithAuthorization_tokenNotSet() public {
        vm.prank(admin);
        rental.setAuthorizationToken(address(0));
        vm.expectRevert(IComputeRental.AuthorizationTokenNotSet.selector);
        rental.createSessionWithAuthorization(provider, 1, SSH_KEY, 1, renter, 0, 1e12, SALT, "");
    }

    function test_RevertWhen_createSessionWithAuthorization_fromZero() public {
        vm.expectRevert(IComputeRental.ZeroAddress.selector);
        rental.createSessionWithAuthorization(provider, 1, SSH_KEY, 1, address(0), 0, 1e12, SALT, "");
    }

    // -------------------------------------------------------------------------------- endSessionBySig

    function _signEnd(uint256 key, uint256 id, uint256 nonce, uint256 deadline) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, rental.hashEndSession(id, nonce, deadline));
        return abi.encodePacked(r, s, v);
    }

    function test_hashEndSession_isEip712() public view {
        bytes32 structHash =
            keccak256(abi.encode(keccak256("EndSession(uint256 sessionId,uint256 nonce,uint256 deadline)"), 1, 2, 3));
        assertEq(
            rental.hashEndSession(1, 2, 3),
            keccak256(abi.encodePacked("\x19\x01", rental.DOMAIN_SEPARATOR(), structHash)),
            "digest"
        );
    }

    function test_endSessionBySig_endsForRenter() public {
        uint256 id = _gaslessCreate(1, 4);
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        bytes memory sig = _signEnd(renterKey, id, rental.nonces(renter), block.timestamp + 10 minutes);
        vm.expectEmit(address(rental));
        uint256 fee = USDC_RATE * FEE_BPS / 10_000;
        emit IComputeRental.SessionEnded(
            id, renter, provider, renter, address(usdc), 3600, USDC_RATE * 3, USDC_RATE - fee, fee
        );
        vm.expectEmit(address(rental));
        emit IComputeRental.Withdrawn(renter, address(usdc), USDC_RATE * 3);
        uint256 before = usdc.balanceOf(renter);
        vm.prank(relayer);
        rental.endSessionBySig(id, block.timestamp + 10 minutes, sig);
        assertEq(rental.nonces(renter), 1, "nonce used");
        assertEq(usdc.balanceOf(renter) - before, USDC_RATE * 3, "refund pushed to the renter");
        assertEq(rental.credits(renter, address(usdc)), 0, "nothing left to withdraw");
        assertEq(rental.credits(provider, address(usdc)), USDC_RATE - fee, "provider payout credited");
        assertEq(usdc.balanceOf(address(rental)), USDC_RATE, "only the billed hour stays escrowed");
    }

    function test_endSessionBySig_pendingRefundsInFullToWallet() public {
        uint256 id = _gaslessCreate(2, 3);
        uint256 before = usdc.balanceOf(renter);
        vm.prank(relayer);
        rental.endSessionBySig(id, block.timestamp, _signEnd(renterKey, id, 0, block.timestamp));
        assertEq(usdc.balanceOf(renter) - before, USDC_RATE * 6, "full prepaid pushed back");
        assertEq(usdc.balanceOf(address(rental)), 0, "escrow empty");
        assertEq(rental.credits(renter, address(usdc)), 0, "no credit");
    }

    function test_endSessionBySig_ethRefundStaysCredited() public {
        uint256 id = _createEth(1, 4);
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        uint256 before = renter.balance;
        vm.prank(relayer);
        rental.endSessionBySig(id, block.timestamp, _signEnd(renterKey, id, 0, block.timestamp));
        assertEq(renter.balance, before, "no ETH pushed");
        assertEq(rental.credits(renter, address(0)), ETH_RATE * 3, "ETH refund credited (pull)");
    }

    function test_endSessionBySig_creditsRefundWhenTokenRefusesRenter() public {
        BlacklistToken bad = new BlacklistToken();
        vm.prank(admin);
        registry.setPaymentTokenAllowed(address(bad), true);
        vm.prank(provider);
        registry.setTokenPrice(address(bad), USDC_RATE);
        bad.mint(renter, 100e6);
        vm.startPrank(renter);
        bad.approve(address(rental), type(uint256).max);
        uint256 id = rental.createSession(provider, 4, SSH_KEY, 1, address(bad));
        vm.stopPrank();
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        bad.setBlacklisted(renter, true);
        bytes memory sig = _signEnd(renterKey, id, 0, block.timestamp);

        vm.prank(relayer);
        rental.endSessionBySig(id, block.timestamp, sig);
        assertEq(uint8(_status(id)), uint8(IComputeRental.SessionStatus.Ended), "settled despite the blacklist");
        assertEq(bad.balanceOf(renter), 100e6 - USDC_RATE * 4, "nothing pushed");
        assertEq(rental.credits(renter, address(bad)), USDC_RATE * 3, "refund credited instead");
        assertEq(bad.balanceOf(address(rental)), USDC_RATE * 4, "balance == credits (refund + payout + fee)");

        bad.setBlacklisted(renter, false);
        vm.prank(renter);
        rental.withdraw(address(bad));
        assertEq(bad.balanceOf(renter), 100e6 - USDC_RATE, "withdrawn once unblocked");
    }

    function test_endSessionBySig_creditsRefundWhenTokenReturnsFalse() public {
        BlacklistToken bad = new BlacklistToken();
        bad.setReturnFalse(true);
        vm.prank(admin);
        registry.setPaymentTokenAllowed(address(bad), true);
        vm.prank(provider);
        registry.setTokenPrice(address(bad), USDC_RATE);
        bad.mint(renter, 100e6);
        vm.startPrank(renter);
        bad.approve(address(rental), type(uint256).max);
        uint256 id = rental.createSession(provider, 2, SSH_KEY, 1, address(bad));
        vm.stopPrank();
        bad.setBlacklisted(renter, true);
        vm.prank(relayer);
        rental.endSessionBySig(id, block.timestamp, _signEnd(renterKey, id, 0, block.timestamp));
        assertEq(rental.credits(renter, address(bad)), USDC_RATE * 2, "refund credited when transfer returns false");
        assertEq(bad.balanceOf(address(rental)), USDC_RATE * 2, "still held");
    }

    function test_endSession_byRenterStillCreditsErc20Refund() public {
        uint256 id = _createUsdc(1, 2);
        uint256 before = usdc.balanceOf(renter);
        vm.prank(renter);
        rental.endSession(id);
        assertEq(usdc.balanceOf(renter), before, "on-chain path stays pull-based");
        assertEq(rental.credits(renter, address(usdc)), USDC_RATE * 2, "credited");
    }

    function test_RevertWhen_endSessionBySig_replayed() public {
        uint256 id = _gaslessCreate(1, 4);
        uint256 id2 = _gaslessCreateSalted(bytes32(uint256(2)));
        bytes memory sig = _signEnd(renterKey, id, 0, block.timestamp);
        rental.endSessionBySig(id, block.timestamp, sig);
        vm.expectRevert(IComputeRental.InvalidSignature.selector);
        rental.endSessionBySig(id2, block.timestamp, sig);
    }

    function test_RevertWhen_endSessionBySig_wrongSigner() public {
        uint256 id = _gaslessCreate(1, 4);
        (, uint256 otherKey) = makeAddrAndKey("other");
        bytes memory sig = _signEnd(otherKey, id, 0, block.timestamp);
        vm.expectRevert(IComputeRental.InvalidSignature.selector);
        rental.endSessionBySig(id, block.timestamp, sig);
    }

    function test_RevertWhen_endSessionBySig_expired() public {
        uint256 id = _gaslessCreate(1, 4);
        bytes memory sig = _signEnd(renterKey, id, 0, block.timestamp - 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SignatureExpired.selector, block.timestamp - 1));
        rental.endSessionBySig(id, block.timestamp - 1, sig);
    }

    function test_RevertWhen_endSessionBySig_notFound() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SessionNotFound.selector, 9));
        rental.endSessionBySig(9, block.timestamp, "");
    }

    function _gaslessCreateSalted(bytes32 salt) internal returns (uint256 id) {
        bytes32 nonce = rental.sessionAuthorizationNonce(provider, 1, SSH_KEY, 1, salt);
        bytes memory sig = _signReceive(renterKey, renter, USDC_RATE, nonce, 1e12);
        id = rental.createSessionWithAuthorization(provider, 1, SSH_KEY, 1, renter, 0, 1e12, salt, sig);
    }
}

/// @dev Minimal ERC-1271 wallet: valid if `abi.encode(r, s, v)` recovers to its owner.
contract Erc1271Wallet {
    address internal immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (bytes32 r, bytes32 s, uint8 v) = abi.decode(signature, (bytes32, bytes32, uint8));
        return ecrecover(hash, v, r, s) == owner ? this.isValidSignature.selector : bytes4(0xffffffff);
    }
}

/// @dev An ERC-20 that refuses transfers to blacklisted accounts (USDC-style): reverting, or returning false.
contract BlacklistToken is ERC20("Blacklist USD", "BUSD") {
    mapping(address account => bool) public blacklisted;
    bool public returnFalse;

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlacklisted(address account, bool value) external {
        blacklisted[account] = value;
    }

    function setReturnFalse(bool value) external {
        returnFalse = value;
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (blacklisted[to] && returnFalse) return false;
        return super.transfer(to, value);
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!blacklisted[from] && !blacklisted[to], "blacklisted");
        super._update(from, to, value);
    }
}
