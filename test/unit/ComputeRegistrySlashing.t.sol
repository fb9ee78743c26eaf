// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ComputeFixture} from "./ComputeFixture.sol";
import {IComputeRegistry} from "../../contracts/interfaces/IComputeRegistry.sol";

contract ComputeRegistrySlashingTest is ComputeFixture {
    address internal arbiter = makeAddr("arbiter");
    address internal reporter = makeAddr("reporter");
    address internal victim = makeAddr("victim");

    function setUp() public override {
        super.setUp();
        vm.startPrank(admin);
        registry.grantRole(registry.SLASHER_ROLE(), arbiter);
        vm.stopPrank();
    }

    function test_slash_creditsBeneficiaryAndStrikes() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderSlashed(
            provider, 0.3 ether, "wrong results", bytes32("evidence"), victim, address(0), 0, 0.7 ether, 0, 1
        );
        vm.prank(arbiter);
        uint256 slashed = registry.slash(provider, 0.3 ether, "wrong results", bytes32("evidence"), victim);
        assertEq(slashed, 0.3 ether, "slashed");
        assertEq(registry.getProvider(provider).stake, 0.7 ether, "stake");
        assertEq(registry.getProvider(provider).strikes, 1, "strike");
        assertEq(registry.credits(victim), 0.3 ether, "victim credited");

        uint256 before = victim.balance;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.Withdrawn(victim, 0.3 ether);
        vm.prank(victim);
        registry.withdraw();
        assertEq(victim.balance - before, 0.3 ether, "victim paid");
        assertEq(registry.credits(victim), 0, "credit spent");
    }

    function test_slash_withoutBeneficiaryGoesToTreasury() public {
        vm.prank(arbiter);
        registry.slash(provider, 0.1 ether, "unpaid requests", bytes32(0), address(0));
        assertEq(registry.credits(treasury), 0.1 ether, "treasury credited");
    }

    function test_slash_takesPendingUnstakeAfterStake() public {
        vm.prank(provider);
        registry.requestUnstake(0.6 ether);
        vm.prank(arbiter);
        uint256 slashed = registry.slash(provider, 0.5 ether, "fraud", bytes32(0), victim);
        assertEq(slashed, 0.5 ether, "full amount");
        IComputeRegistry.ProviderInfo memory p = registry.getProvider(provider);
        assertEq(p.stake, 0, "stake emptied first");
        assertEq(p.pendingUnstake, 0.5 ether, "then pending");
        assertGt(p.unstakeUnlockTime, 0, "still unbonding");
    }

    function test_slash_capsAtAvailableAndDeactivates() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderDeactivated(provider);
        vm.prank(arbiter);
        uint256 slashed = registry.slash(provider, 5 ether, "fraud", bytes32(0), victim);
        assertEq(slashed, STAKE, "capped");
        assertFalse(registry.getProvider(provider).active, "deactivated below min stake");

        vm.prank(arbiter);
        slashed = registry.slash(provider, 1 ether, "again", bytes32(0), victim);
        assertEq(slashed, 0, "nothing left, strike only");
        assertEq(registry.getProvider(provider).strikes, 2, "strikes");
    }

    function test_slash_emptiesPendingClearsUnlock() public {
        vm.prank(provider);
        registry.requestUnstake(STAKE);
        vm.prank(arbiter);
        registry.slash(provider, STAKE, "fraud", bytes32(0), victim);
        assertEq(registry.getProvider(provider).unstakeUnlockTime, 0, "no unlock once nothing pending");
    }

    function test_RevertWhen_slash_notSlasher() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registry.SLASHER_ROLE()
            )
        );
        vm.prank(stranger);
        registry.slash(provider, 1, "x", bytes32(0), victim);
    }

    function test_RevertWhen_slash_notRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotRegistered.selector, stranger));
        vm.prank(arbiter);
        registry.slash(stranger, 1, "x", bytes32(0), victim);
    }

    function test_reportDowntime_slashesRewardsReporterDeactivates() public {
        uint256 last = block.timestamp;
        vm.warp(last + 4 hours + 1);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderSlashed(
            provider, 0.01 ether, "downtime", bytes32(last), treasury, reporter, 0.001 ether, 0.99 ether, 0, 1
        );
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderDeactivated(provider);
        vm.prank(reporter);
        uint256 slashed = registry.reportDowntime(provider);
        assertEq(slashed, 0.01 ether, "slashed");
        assertEq(registry.credits(reporter), 0.001 ether, "reporter reward 10%");
        assertEq(registry.credits(treasury), 0.009 ether, "treasury rest");
        assertFalse(registry.getProvider(provider).active, "deactivated");

        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotActive.selector, provider));
        vm.prank(reporter);
        registry.reportDowntime(provider);
    }

    function test_RevertWhen_reportDowntime_heartbeatFresh() public {
        uint256 last = block.timestamp;
        vm.warp(last + 4 hours);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRegistry.ProviderNotDown.selector, provider, last, last + 4 hours)
        );
        vm.prank(reporter);
        registry.reportDowntime(provider);
    }

    function test_RevertWhen_reportDowntime_notRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotRegistered.selector, stranger));
        registry.reportDowntime(stranger);
    }

    function test_RevertWhen_withdraw_nothing() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.NothingToWithdraw.selector, stranger));
        vm.prank(stranger);
        registry.withdraw();
    }

    function test_RevertWhen_withdraw_transferFails() public {
        address refuser = address(new Refuser());
        vm.prank(arbiter);
        registry.slash(provider, 0.1 ether, "x", bytes32(0), refuser);
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.NativeTransferFailed.selector, refuser, 0.1 ether));
        vm.prank(refuser);
        registry.withdraw();
    }

    function test_slashedFundsNeverVanish() public {
        uint256 balance = address(registry).balance;
        vm.prank(provider);
        registry.requestUnstake(0.5 ether);
        vm.prank(arbiter);
        registry.slash(provider, 0.8 ether, "x", bytes32(0), victim);
        vm.warp(block.timestamp + 5 hours);
        address second = _secondProvider();
        vm.prank(reporter);
        registry.reportDowntime(second);
        IComputeRegistry.ProviderInfo memory p = registry.getProvider(provider);
        IComputeRegistry.ProviderInfo memory q = registry.getProvider(makeAddr("second"));
        assertEq(
            address(registry).balance,
            p.stake + p.pendingUnstake + q.stake + q.pendingUnstake + registry.credits(victim)
                + registry.credits(reporter) + registry.credits(treasury),
            "balance == stakes + pending + credits"
        );
        assertEq(address(registry).balance, balance + STAKE, "nothing left the contract");
    }

    function _secondProvider() internal returns (address second) {
        second = makeAddr("second");
        vm.warp(block.timestamp - 5 hours);
        _registerProvider(second, 1);
        vm.warp(block.timestamp + 5 hours);
    }
}

contract Refuser {
    receive() external payable {
        revert("no");
    }
}
