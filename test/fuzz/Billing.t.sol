// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {BillingLib} from "../../contracts/libraries/BillingLib.sol";
import {ComputeFixture} from "../unit/ComputeFixture.sol";
import {IComputeRental} from "../../contracts/interfaces/IComputeRental.sol";

/// @dev Exposes the library so reverts surface as calls.
contract BillingHarness {
    function split(uint256 rate, uint256 gpus, uint256 hours_, uint256 used, uint256 feeBps)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        return BillingLib.split(rate, gpus, hours_, used, feeBps);
    }
}

contract BillingLibFuzzTest is Test {
    BillingHarness internal harness = new BillingHarness();

    /// Naive reference: the docs' (prepaidHours − usedHours) × hourlyRate, to the second, in one expression.
    function _reference(uint256 rate, uint256 gpus, uint256 hours_, uint256 used, uint256 feeBps)
        internal
        pure
        returns (uint256 refund, uint256 payout, uint256 fee)
    {
        uint256 unitsNum = gpus == 0 ? 1 : gpus;
        if (used > hours_ * 3600) used = hours_ * 3600;
        uint256 cost = (rate * unitsNum * used) / 3600;
        fee = (cost * feeBps) / 10_000;
        payout = cost - fee;
        refund = rate * unitsNum * hours_ - cost;
    }

    function testFuzz_split_refundPlusPayoutPlusFeeEqualsPrepaid(
        uint96 rate,
        uint16 gpus,
        uint32 hours_,
        uint64 used,
        uint16 feeBps
    ) public view {
        hours_ = uint32(bound(hours_, 1, 8760));
        feeBps = uint16(bound(feeBps, 0, 1000));
        (uint256 refund, uint256 payout, uint256 fee) = harness.split(rate, gpus, hours_, used, feeBps);
        uint256 prepaid = BillingLib.prepaid(rate, gpus, hours_);
        assertEq(refund + payout + fee, prepaid, "refund + payout + fee == prepaid");
        assertLe(payout + fee, prepaid, "provider never gets more than prepaid");
        (uint256 r2, uint256 p2, uint256 f2) = _reference(rate, gpus, hours_, used, feeBps);
        assertEq(refund, r2, "refund matches reference");
        assertEq(payout, p2, "payout matches reference");
        assertEq(fee, f2, "fee matches reference");
    }

    function testFuzz_split_monotonicInTime(uint96 rate, uint16 gpus, uint32 hours_, uint64 a, uint64 b) public view {
        hours_ = uint32(bound(hours_, 1, 8760));
        (uint64 lo, uint64 hi) = a < b ? (a, b) : (b, a);
        (uint256 refundLo,,) = harness.split(rate, gpus, hours_, lo, 250);
        (uint256 refundHi,,) = harness.split(rate, gpus, hours_, hi, 250);
        assertGe(refundLo, refundHi, "using more time never refunds more");
    }

    function testFuzz_split_fullUseRefundsNothing(uint96 rate, uint16 gpus, uint32 hours_, uint64 extra) public view {
        hours_ = uint32(bound(hours_, 1, 8760));
        (uint256 refund,,) = harness.split(rate, gpus, hours_, uint256(hours_) * 3600 + extra, 250);
        assertEq(refund, 0, "fully used: no refund");
    }
}

/// @notice The same property end to end through the contracts, for any elapsed time, rate and GPU count.
contract RentalSettlementFuzzTest is ComputeFixture {
    function testFuzz_endSession_refundPlusPayoutEqualsPrepaid(
        uint64 elapsed,
        uint96 rate,
        uint8 gpus,
        uint16 hours_,
        bool byProvider,
        bool usdcPay
    ) public {
        rate = uint96(bound(rate, 1, 1_000 ether));
        gpus = uint8(bound(gpus, 0, 8));
        hours_ = uint16(bound(hours_, 1, 8760));
        elapsed = uint64(bound(elapsed, 0, 2 * uint256(hours_) * 3600));
        address token = usdcPay ? address(usdc) : address(0);
        vm.prank(provider);
        registry.setTokenPrice(token, rate);
        uint256 prepaid = uint256(rate) * (gpus == 0 ? 1 : gpus) * hours_;
        vm.deal(renter, prepaid);
        usdc.mint(renter, prepaid);

        vm.prank(renter);
        uint256 id = rental.createSession{value: usdcPay ? 0 : prepaid}(provider, hours_, SSH_KEY, gpus, token);
        _activate(id);
        vm.warp(block.timestamp + elapsed);
        vm.prank(byProvider ? provider : renter);
        rental.endSession(id);

        uint256 refund = rental.credits(renter, token);
        uint256 payout = rental.credits(provider, token);
        uint256 fee = rental.credits(treasury, token);
        assertEq(refund + payout + fee, prepaid, "refund + payout + fee == prepaid");
        uint256 cost = uint256(rate) * (gpus == 0 ? 1 : gpus) * elapsed / 3600;
        if (cost > prepaid) cost = prepaid;
        assertEq(refund, prepaid - cost, "refund = prepaid - rate x gpus x seconds / 3600");
        assertEq(fee, cost * FEE_BPS / 10_000, "fee");
        uint256 held = usdcPay ? usdc.balanceOf(address(rental)) : address(rental).balance;
        assertEq(held, prepaid, "contract holds exactly the credits");
        assertEq(uint8(_status(id)), uint8(IComputeRental.SessionStatus.Ended), "ended");
    }
}
