// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ComputeFixture} from "./ComputeFixture.sol";
import {ComputeRental} from "../../contracts/ComputeRental.sol";
import {IComputeRegistry} from "../../contracts/interfaces/IComputeRegistry.sol";
import {IComputeRental} from "../../contracts/interfaces/IComputeRental.sol";

contract ComputeRentalTest is ComputeFixture {
    // -------------------------------------------------------------------------------- createSession

    function test_createSession_escrowsEthAndEmits() public {
        uint256 cost = ETH_RATE * 2 * 24;
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionCreated(1, renter, provider, address(0), ETH_RATE, 2, 24, cost, SSH_KEY);
        vm.prank(renter);
        uint256 id = rental.createSession{value: cost}(provider, 24, SSH_KEY, 2, address(0));
        assertEq(id, 1, "first id");
        assertEq(rental.nextSessionId(), 2, "next id");
        assertEq(address(rental).balance, cost, "escrowed");
        IComputeRental.SessionInfo memory s = rental.getSession(id);
        assertEq(s.renter, renter, "renter");
        assertEq(s.provider, provider, "provider");
        assertEq(s.token, address(0), "token");
        assertEq(s.ratePerHour, ETH_RATE, "rate");
        assertEq(s.gpuCount, 2, "gpus");
        assertEq(s.durationHours, 24, "hours");
        assertEq(s.prepaid, cost, "prepaid");
        assertEq(s.createdAt, block.timestamp, "created");
        assertEq(s.startedAt, 0, "not started");
        assertEq(s.expiresAt, 0, "no expiry yet");
        assertEq(uint8(s.status), uint8(IComputeRental.SessionStatus.Pending), "pending");
        assertEq(registry.getProvider(provider).gpusInUse, 2, "gpus reserved");
        assertEq(registry.getProvider(provider).activeRentals, 1, "rental counted");
    }

    function test_createSession_pullsUsdc() public {
        uint256 before = usdc.balanceOf(renter);
        uint256 id = _createUsdc(2, 3);
        assertEq(before - usdc.balanceOf(renter), USDC_RATE * 2 * 3, "pulled");
        assertEq(usdc.balanceOf(address(rental)), USDC_RATE * 2 * 3, "escrowed");
        assertEq(rental.getSession(id).token, address(usdc), "token");
    }

    function test_createSession_locksPrice() public {
        uint256 id = _createEth(1, 10);
        vm.prank(provider);
        registry.setTokenPrice(address(0), ETH_RATE * 5);
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        assertEq(rental.getSession(id).ratePerHour, ETH_RATE, "rate locked");
        vm.prank(renter);
        rental.endSession(id);
        assertEq(rental.credits(renter, address(0)), ETH_RATE * 9, "refund at the locked rate");
    }

    function test_createSession_cpuOnlyBilledAsOneUnit() public {
        uint256 id = _createEth(0, 2);
        assertEq(rental.getSession(id).prepaid, ETH_RATE * 2, "cpu-only = 1 unit");
        assertEq(registry.getProvider(provider).gpusInUse, 0, "no gpus reserved");
        assertEq(registry.getProvider(provider).activeRentals, 1, "one rental");
    }

    function test_RevertWhen_createSession_incorrectEth() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.IncorrectPayment.selector, 1, ETH_RATE));
        vm.prank(renter);
        rental.createSession{value: 1}(provider, 1, SSH_KEY, 1, address(0));
    }

    function test_RevertWhen_createSession_ethWithToken() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.IncorrectPayment.selector, 1, 0));
        vm.prank(renter);
        rental.createSession{value: 1}(provider, 1, SSH_KEY, 1, address(usdc));
    }

    function test_RevertWhen_createSession_durationZero() public {
        vm.expectRevert(IComputeRental.DurationZero.selector);
        vm.prank(renter);
        rental.createSession(provider, 0, SSH_KEY, 1, address(0));
    }

    function test_RevertWhen_createSession_durationTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.DurationTooLong.selector, 8761, 8760));
        vm.prank(renter);
        rental.createSession(provider, 8761, SSH_KEY, 1, address(0));
    }

    function test_RevertWhen_createSession_sshKeyEmpty() public {
        vm.expectRevert(IComputeRental.SshKeyEmpty.selector);
        vm.prank(renter);
        rental.createSession(provider, 1, "", 1, address(0));
    }

    function test_RevertWhen_createSession_providerInactive() public {
        vm.prank(provider);
        registry.deactivate();
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotActive.selector, provider));
        vm.prank(renter);
        rental.createSession{value: ETH_RATE}(provider, 1, SSH_KEY, 1, address(0));
    }

    function test_RevertWhen_createSession_providerUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotActive.selector, stranger));
        vm.prank(renter);
        rental.createSession{value: ETH_RATE}(stranger, 1, SSH_KEY, 1, address(0));
    }

    function test_RevertWhen_createSession_insufficientGpus() public {
        _createEth(6, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.InsufficientGpus.selector, provider, 3, 2));
        vm.prank(renter);
        rental.createSession{value: ETH_RATE * 3}(provider, 1, SSH_KEY, 3, address(0));
    }

    function test_RevertWhen_createSession_concurrentLimit() public {
        vm.prank(provider);
        registry.setMaxConcurrentRentals(1);
        _createEth(0, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ConcurrentRentalLimitReached.selector, provider, 1));
        vm.prank(renter);
        rental.createSession{value: ETH_RATE}(provider, 1, SSH_KEY, 0, address(0));
    }

    function test_RevertWhen_createSession_tokenNotAllowed() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.PaymentTokenNotAllowed.selector, stranger));
        vm.prank(renter);
        rental.createSession(provider, 1, SSH_KEY, 1, stranger);
    }

    function test_RevertWhen_createSession_tokenNotAccepted() public {
        vm.prank(provider);
        registry.setTokenPrice(address(usdc), 0);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRegistry.PaymentTokenNotAccepted.selector, provider, address(usdc))
        );
        _createUsdc(1, 1);
    }

    // -------------------------------------------------------------------------------- activate / reject

    function test_activateSession_startsBilling() public {
        uint256 id = _createEth(1, 5);
        vm.warp(block.timestamp + 10 minutes);
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionActivated(
            id, renter, provider, "conn", uint64(block.timestamp), uint64(block.timestamp + 5 hours)
        );
        vm.prank(provider);
        rental.activateSession(id, "conn");
        IComputeRental.SessionInfo memory s = rental.getSession(id);
        assertEq(uint8(s.status), uint8(IComputeRental.SessionStatus.Active), "active");
        assertEq(s.startedAt, block.timestamp, "started");
        assertEq(s.expiresAt, block.timestamp + 5 hours, "expires");
        (uint256 used,,,) = rental.previewSettlement(id);
        assertEq(used, 0, "pending time is not billed");
    }

    function test_RevertWhen_activateSession_notProvider() public {
        uint256 id = _createEth(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.CallerNotProvider.selector, id, renter));
        vm.prank(renter);
        rental.activateSession(id, "x");
    }

    function test_RevertWhen_activateSession_notPending() public {
        uint256 id = _createEth(1, 1);
        _activate(id);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRental.SessionNotPending.selector, id, IComputeRental.SessionStatus.Active)
        );
        vm.prank(provider);
        rental.activateSession(id, "x");
    }

    function test_RevertWhen_activateSession_notFound() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SessionNotFound.selector, 42));
        vm.prank(provider);
        rental.activateSession(42, "x");
    }

    function test_rejectSession_refundsInFull() public {
        uint256 id = _createUsdc(2, 4);
        uint256 prepaid = USDC_RATE * 2 * 4;
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionRejected(id, renter, provider, address(usdc), prepaid, "no capacity");
        vm.prank(provider);
        rental.rejectSession(id, "no capacity");
        assertEq(uint8(_status(id)), uint8(IComputeRental.SessionStatus.Rejected), "rejected");
        assertEq(rental.credits(renter, address(usdc)), prepaid, "full refund");
        assertEq(registry.getProvider(provider).gpusInUse, 0, "released");
        assertEq(registry.getProvider(provider).activeRentals, 0, "released rental");
    }

    function test_RevertWhen_rejectSession_notProvider() public {
        uint256 id = _createEth(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.CallerNotProvider.selector, id, stranger));
        vm.prank(stranger);
        rental.rejectSession(id, "x");
    }

    // -------------------------------------------------------------------------------- cancel

    function test_cancelSession_afterTimeoutRefundsAndSlashes() public {
        uint256 id = _createEth(2, 3);
        uint256 prepaid = ETH_RATE * 2 * 3;
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionCancelled(id, renter, provider, address(0), prepaid, 0.01 ether);
        vm.prank(renter);
        rental.cancelSession(id);
        assertEq(uint8(_status(id)), uint8(IComputeRental.SessionStatus.Cancelled), "cancelled");
        assertEq(rental.credits(renter, address(0)), prepaid, "full refund");
        assertEq(registry.credits(renter), 0.01 ether, "slash goes to the renter");
        assertEq(registry.getProvider(provider).strikes, 1, "strike");
        assertEq(registry.getProvider(provider).stake, STAKE - 0.01 ether, "stake slashed");
        assertEq(registry.getProvider(provider).gpusInUse, 0, "released");
    }

    function test_cancelSession_providerWithoutStakeOnlyStruck() public {
        uint256 id = _createEth(1, 1);
        vm.prank(admin);
        registry.slash(provider, STAKE, "x", bytes32(0), address(0));
        vm.warp(block.timestamp + 1 hours);
        vm.prank(renter);
        rental.cancelSession(id);
        assertEq(registry.getProvider(provider).strikes, 2, "struck again");
        assertEq(rental.credits(renter, address(0)), ETH_RATE, "refund anyway");
    }

    function test_cancelSession_refundsEvenIfSlashingFails() public {
        uint256 id = _createEth(1, 1);
        vm.startPrank(admin);
        registry.revokeRole(registry.SLASHER_ROLE(), address(rental));
        vm.stopPrank();
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionCancelled(id, renter, provider, address(0), ETH_RATE, 0);
        vm.prank(renter);
        rental.cancelSession(id);
        assertEq(rental.credits(renter, address(0)), ETH_RATE, "refund not blocked");
    }

    function test_RevertWhen_cancelSession_beforeTimeout() public {
        uint256 id = _createEth(1, 1);
        uint256 at = block.timestamp + 1 hours;
        vm.warp(at - 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.ProvisionTimeoutNotReached.selector, id, at));
        vm.prank(renter);
        rental.cancelSession(id);
    }

    function test_RevertWhen_cancelSession_notRenter() public {
        uint256 id = _createEth(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.CallerNotRenter.selector, id, provider));
        vm.prank(provider);
        rental.cancelSession(id);
    }

    function test_RevertWhen_cancelSession_active() public {
        uint256 id = _createEth(1, 1);
        _activate(id);
        vm.warp(block.timestamp + 2 hours);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRental.SessionNotPending.selector, id, IComputeRental.SessionStatus.Active)
        );
        vm.prank(renter);
        rental.cancelSession(id);
    }

    // -------------------------------------------------------------------------------- extend

    function test_extendSession_addsHoursAtLockedRate() public {
        uint256 id = _createEth(2, 2);
        _activate(id);
        uint256 start = block.timestamp;
        vm.prank(provider);
        registry.setTokenPrice(address(0), 1 ether);
        vm.warp(block.timestamp + 1 hours);
        uint256 added = ETH_RATE * 2 * 3;
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionExtended(
            id, renter, provider, address(0), 3, added, 5, ETH_RATE * 2 * 5, uint64(start + 5 hours)
        );
        vm.prank(renter);
        rental.extendSession{value: added}(id, 3);
        assertEq(rental.getSession(id).durationHours, 5, "hours");
        assertEq(rental.getSession(id).expiresAt, start + 5 hours, "expiry");
        assertEq(address(rental).balance, ETH_RATE * 2 * 5, "escrow");
    }

    function test_extendSession_pendingUsdc() public {
        uint256 id = _createUsdc(1, 1);
        vm.prank(renter);
        rental.extendSession(id, 2);
        assertEq(rental.getSession(id).prepaid, USDC_RATE * 3, "prepaid");
        assertEq(rental.getSession(id).expiresAt, 0, "no expiry while pending");
        assertEq(usdc.balanceOf(address(rental)), USDC_RATE * 3, "escrow");
    }

    function test_RevertWhen_extendSession_expired() public {
        uint256 id = _createEth(1, 1);
        _activate(id);
        uint256 expiresAt = block.timestamp + 1 hours;
        vm.warp(expiresAt);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SessionExpired.selector, id, expiresAt));
        vm.prank(renter);
        rental.extendSession{value: ETH_RATE}(id, 1);
    }

    function test_RevertWhen_extendSession_wrongPayment() public {
        uint256 id = _createEth(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.IncorrectPayment.selector, 0, ETH_RATE));
        vm.prank(renter);
        rental.extendSession(id, 1);
        uint256 id2 = _createUsdc(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.IncorrectPayment.selector, 1, 0));
        vm.prank(renter);
        rental.extendSession{value: 1}(id2, 1);
    }

    function test_RevertWhen_extendSession_zeroOrTooLong() public {
        uint256 id = _createEth(1, 1);
        vm.startPrank(renter);
        vm.expectRevert(IComputeRental.DurationZero.selector);
        rental.extendSession(id, 0);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.DurationTooLong.selector, 8761, 8760));
        rental.extendSession(id, 8760);
        vm.stopPrank();
    }

    function test_RevertWhen_extendSession_notRenterOrClosed() public {
        uint256 id = _createEth(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.CallerNotRenter.selector, id, stranger));
        vm.prank(stranger);
        rental.extendSession{value: ETH_RATE}(id, 1);
        vm.prank(renter);
        rental.endSession(id);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRental.SessionNotOpen.selector, id, IComputeRental.SessionStatus.Ended)
        );
        vm.prank(renter);
        rental.extendSession{value: ETH_RATE}(id, 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SessionNotFound.selector, 99));
        vm.prank(renter);
        rental.extendSession(99, 1);
    }

    // -------------------------------------------------------------------------------- end

    function test_endSession_renterEarlyGetsProratedRefund() public {
        uint256 id = _createEth(2, 10);
        _activate(id);
        vm.warp(block.timestamp + 90 minutes);
        uint256 prepaid = ETH_RATE * 2 * 10;
        uint256 cost = ETH_RATE * 2 * 5400 / 3600;
        uint256 fee = cost * FEE_BPS / 10_000;
        vm.expectEmit(address(rental));
        emit IComputeRental.SessionEnded(
            id, renter, provider, renter, address(0), 5400, prepaid - cost, cost - fee, fee
        );
        vm.prank(renter);
        rental.endSession(id);
        assertEq(rental.credits(renter, address(0)), prepaid - cost, "refund");
        assertEq(rental.credits(provider, address(0)), cost - fee, "payout");
        assertEq(rental.credits(treasury, address(0)), fee, "fee");
        assertEq(rental.getSession(id).endedAt, block.timestamp, "ended at");
        assertEq(registry.getProvider(provider).gpusInUse, 0, "released");

        uint256 before = renter.balance;
        vm.expectEmit(address(rental));
        emit IComputeRental.Withdrawn(renter, address(0), prepaid - cost);
        vm.prank(renter);
        rental.withdraw(address(0));
        assertEq(renter.balance - before, prepaid - cost, "withdrawn");
    }

    function test_endSession_providerCanEnd() public {
        uint256 id = _createUsdc(1, 2);
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        vm.prank(provider);
        rental.endSession(id);
        assertEq(rental.credits(renter, address(usdc)), USDC_RATE, "half refunded");
        vm.prank(provider);
        rental.withdraw(address(usdc));
        assertEq(usdc.balanceOf(provider), USDC_RATE - USDC_RATE * FEE_BPS / 10_000, "provider paid in usdc");
    }

    function test_endSession_pendingRefundsInFull() public {
        uint256 id = _createEth(1, 3);
        vm.warp(block.timestamp + 2 hours);
        vm.prank(renter);
        rental.endSession(id);
        assertEq(rental.credits(renter, address(0)), ETH_RATE * 3, "full refund");
        assertEq(rental.credits(provider, address(0)), 0, "no payout");
    }

    function test_endSession_anyoneAfterExpiryPaysFull() public {
        uint256 id = _createEth(1, 2);
        _activate(id);
        vm.warp(block.timestamp + 30 hours);
        vm.prank(stranger);
        rental.endSession(id);
        uint256 fee = ETH_RATE * 2 * FEE_BPS / 10_000;
        assertEq(rental.credits(renter, address(0)), 0, "no refund");
        assertEq(rental.credits(provider, address(0)), ETH_RATE * 2 - fee, "payout capped at duration");
        assertEq(rental.credits(treasury, address(0)), fee, "fee");
    }

    function test_RevertWhen_endSession_strangerBeforeExpiry() public {
        uint256 id = _createEth(1, 2);
        _activate(id);
        vm.warp(block.timestamp + 2 hours - 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.CallerNotParticipant.selector, id, stranger));
        vm.prank(stranger);
        rental.endSession(id);
    }

    function test_RevertWhen_endSession_strangerPending() public {
        uint256 id = _createEth(1, 2);
        vm.warp(block.timestamp + 100 hours);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.CallerNotParticipant.selector, id, stranger));
        vm.prank(stranger);
        rental.endSession(id);
    }

    function test_RevertWhen_endSession_alreadyEnded() public {
        uint256 id = _createEth(1, 2);
        vm.startPrank(renter);
        rental.endSession(id);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRental.SessionNotOpen.selector, id, IComputeRental.SessionStatus.Ended)
        );
        rental.endSession(id);
        vm.stopPrank();
    }

    function test_RevertWhen_endSession_notFound() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SessionNotFound.selector, 7));
        rental.endSession(7);
    }

    function test_RevertWhen_withdraw_nothing() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.NothingToWithdraw.selector, renter, address(0)));
        vm.prank(renter);
        rental.withdraw(address(0));
    }

    // -------------------------------------------------------------------------------- views

    function test_quote_matchesCreateCost() public view {
        assertEq(rental.quote(provider, address(0), 2, 24), ETH_RATE * 2 * 24, "eth");
        assertEq(rental.quote(provider, address(usdc), 0, 5), USDC_RATE * 5, "usdc cpu-only");
        assertEq(rental.quote(provider, stranger, 1, 1), 0, "token not allowed");
    }

    function test_previewSettlement_matchesEnd() public {
        uint256 id = _createEth(3, 4);
        _activate(id);
        vm.warp(block.timestamp + 1234);
        (uint256 used, uint256 refund, uint256 payout, uint256 fee) = rental.previewSettlement(id);
        assertEq(used, 1234, "used");
        vm.prank(renter);
        rental.endSession(id);
        assertEq(rental.credits(renter, address(0)), refund, "refund");
        assertEq(rental.credits(provider, address(0)), payout, "payout");
        assertEq(rental.credits(treasury, address(0)), fee, "fee");
    }

    function test_RevertWhen_previewSettlement_closedOrMissing() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.SessionNotFound.selector, 5));
        rental.previewSettlement(5);
        uint256 id = _createEth(1, 1);
        vm.prank(provider);
        rental.rejectSession(id, "");
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRental.SessionNotOpen.selector, id, IComputeRental.SessionStatus.Rejected)
        );
        rental.previewSettlement(id);
    }

    // -------------------------------------------------------------------------------- governance

    function test_governance_setters() public {
        vm.startPrank(admin);
        vm.expectEmit(address(rental));
        emit IComputeRental.FeeSet(1000);
        rental.setFee(1000);
        vm.expectEmit(address(rental));
        emit IComputeRental.TreasurySet(stranger);
        rental.setTreasury(stranger);
        vm.expectEmit(address(rental));
        emit IComputeRental.ProvisionTimeoutSet(2 hours);
        rental.setProvisionTimeout(2 hours);
        vm.expectEmit(address(rental));
        emit IComputeRental.CancelSlashAmountSet(0.5 ether);
        rental.setCancelSlashAmount(0.5 ether);
        vm.expectEmit(address(rental));
        emit IComputeRental.AuthorizationTokenSet(address(0));
        rental.setAuthorizationToken(address(0));
        vm.stopPrank();
        assertEq(rental.feeBps(), 1000, "fee");
        assertEq(rental.treasury(), stranger, "treasury");
        assertEq(rental.provisionTimeout(), 2 hours, "timeout");
        assertEq(rental.cancelSlashAmount(), 0.5 ether, "cancel slash");
        assertEq(rental.authorizationToken(), address(0), "auth token");
        assertEq(rental.registry(), address(registry), "registry");
    }

    function test_RevertWhen_setFee_tooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.FeeTooHigh.selector, 1001, 1000));
        vm.prank(admin);
        rental.setFee(1001);
        vm.expectRevert(abi.encodeWithSelector(IComputeRental.FeeTooHigh.selector, 1001, 1000));
        new ComputeRental(registry, admin, treasury, 1001);
    }

    function test_RevertWhen_rentalGovernance_notAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, rental.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(stranger);
        rental.setFee(0);
    }

    function test_RevertWhen_rentalZeroAddress() public {
        vm.expectRevert(IComputeRental.ZeroAddress.selector);
        vm.prank(admin);
        rental.setTreasury(address(0));
        vm.expectRevert(IComputeRental.ZeroAddress.selector);
        new ComputeRental(registry, address(0), treasury, 0);
    }
}
