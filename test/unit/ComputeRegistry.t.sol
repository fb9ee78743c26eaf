// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ComputeFixture} from "./ComputeFixture.sol";
import {ComputeRegistry} from "../../contracts/ComputeRegistry.sol";
import {IComputeRegistry} from "../../contracts/interfaces/IComputeRegistry.sol";

/// @dev Refuses ETH, to exercise NativeTransferFailed.
contract EthRefuser {
    function register(ComputeRegistry registry) external payable {
        registry.register{value: msg.value}("https://refuser", "", 1);
    }

    function requestUnstake(ComputeRegistry registry, uint256 amount) external {
        registry.requestUnstake(amount);
    }

    function withdrawStake(ComputeRegistry registry) external {
        registry.withdrawStake();
    }
}

contract ComputeRegistryTest is ComputeFixture {
    address internal newcomer = makeAddr("newcomer");

    function setUp() public override {
        super.setUp();
        vm.deal(newcomer, 10 ether);
    }

    // -------------------------------------------------------------------------------- register

    function test_register_storesProviderAndEmits() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderRegistered(
            newcomer, ENDPOINT, ATTESTATION, keccak256(bytes(ATTESTATION)), 0.01 ether, 0.1 ether
        );
        vm.prank(newcomer);
        registry.register{value: 0.1 ether}(ENDPOINT, ATTESTATION, 0.01 ether);

        IComputeRegistry.ProviderInfo memory p = registry.getProvider(newcomer);
        assertTrue(p.registered, "registered");
        assertTrue(p.active, "active");
        assertEq(p.stake, 0.1 ether, "stake");
        assertEq(p.pricePerHour, 0.01 ether, "price");
        assertEq(p.lastHeartbeat, block.timestamp, "heartbeat");
        assertEq(p.attestationHash, keccak256(bytes(ATTESTATION)), "attestation hash");
        assertEq(p.endpoint, ENDPOINT, "endpoint");
        assertEq(p.gpuCount, 0, "no hardware yet");
        assertEq(p.strikes, 0, "strikes");
        assertEq(address(registry).balance, STAKE + 0.1 ether, "registry holds stakes");
    }

    function test_register_acceptsEmptyAttestation() public {
        vm.prank(newcomer);
        registry.register{value: 0.1 ether}(ENDPOINT, "", 0.01 ether);
        assertEq(registry.getProvider(newcomer).attestationHash, keccak256(""), "hash of empty attestation");
    }

    function test_RevertWhen_register_alreadyRegistered() public {
        vm.deal(provider, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderAlreadyRegistered.selector, provider));
        vm.prank(provider);
        registry.register{value: 0.1 ether}(ENDPOINT, "", 1);
    }

    function test_RevertWhen_register_stakeTooLow() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.StakeTooLow.selector, 0.1 ether - 1, 0.1 ether));
        vm.prank(newcomer);
        registry.register{value: 0.1 ether - 1}(ENDPOINT, "", 1);
    }

    function test_RevertWhen_register_endpointEmpty() public {
        vm.expectRevert(IComputeRegistry.EndpointEmpty.selector);
        vm.prank(newcomer);
        registry.register{value: 0.1 ether}("", "", 1);
    }

    function test_RevertWhen_register_priceTooHigh() public {
        uint256 price = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.PriceTooHigh.selector, price, type(uint96).max));
        vm.prank(newcomer);
        registry.register{value: 0.1 ether}(ENDPOINT, "", price);
    }

    // -------------------------------------------------------------------------------- upkeep

    function test_updateEndpoint_replacesEndpoint() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.EndpointUpdated(provider, "https://new.example:4007");
        vm.prank(provider);
        registry.updateEndpoint("https://new.example:4007");
        assertEq(registry.getProvider(provider).endpoint, "https://new.example:4007", "endpoint");
    }

    function test_RevertWhen_updateEndpoint_empty() public {
        vm.expectRevert(IComputeRegistry.EndpointEmpty.selector);
        vm.prank(provider);
        registry.updateEndpoint("");
    }

    function test_RevertWhen_updateEndpoint_notRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotRegistered.selector, stranger));
        vm.prank(stranger);
        registry.updateEndpoint("x");
    }

    function test_updateAttestation_storesHashEmitsData() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.AttestationUpdated(provider, "quote-2", keccak256("quote-2"));
        vm.prank(provider);
        registry.updateAttestation("quote-2");
        assertEq(registry.getProvider(provider).attestationHash, keccak256("quote-2"), "hash");
    }

    function test_setHardware_storesAllFields() public {
        IComputeRegistry.Hardware memory hw = _hardware(4);
        hw.gpuModel = "NVIDIA A100 40GB";
        hw.teeType = IComputeRegistry.TeeType.IntelTDX;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.HardwareUpdated(
            provider, "NVIDIA A100 40GB", 4, 80, 64, 512, 4000, IComputeRegistry.TeeType.IntelTDX
        );
        vm.prank(provider);
        registry.setHardware(hw);
        IComputeRegistry.Hardware memory got = registry.getHardware(provider);
        assertEq(got.gpuModel, "NVIDIA A100 40GB", "model");
        assertEq(got.gpuCount, 4, "gpus");
        assertEq(got.vramGb, 80, "vram");
        assertEq(got.cpuCores, 64, "cpu");
        assertEq(got.memoryGb, 512, "mem");
        assertEq(got.storageGb, 4000, "disk");
        assertEq(uint8(got.teeType), uint8(IComputeRegistry.TeeType.IntelTDX), "tee");
        assertEq(registry.availableGpus(provider), 4, "available");
    }

    function test_setModel_addsUpdatesAndRemoves() public {
        vm.startPrank(provider);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ModelSet(provider, "llama2", 1, 2);
        registry.setModel("llama2", 1, 2);
        registry.setModel("mistral", 3, 4);
        registry.setModel("qwen", 5, 6);
        registry.setModel("llama2", 7, 8);
        IComputeRegistry.Model[] memory models = registry.getModels(provider);
        assertEq(models.length, 3, "three models");
        assertEq(models[0].name, "llama2", "first");
        assertEq(models[0].inputPricePerToken, 7, "repriced in");
        assertEq(models[0].outputPricePerToken, 8, "repriced out");

        vm.expectEmit(address(registry));
        emit IComputeRegistry.ModelRemoved(provider, "llama2");
        registry.removeModel("llama2");
        vm.stopPrank();
        models = registry.getModels(provider);
        assertEq(models.length, 2, "two left");
        assertEq(models[0].name, "qwen", "last moved into the hole");
        (uint256 inPrice, uint256 outPrice) = registry.getModelPrice(provider, "qwen");
        assertEq(inPrice, 5, "qwen in");
        assertEq(outPrice, 6, "qwen out");
        (inPrice,) = registry.getModelPrice(provider, "mistral");
        assertEq(inPrice, 3, "mistral in");
    }

    function test_RevertWhen_setModel_nameEmpty() public {
        vm.expectRevert(IComputeRegistry.ModelNameEmpty.selector);
        vm.prank(provider);
        registry.setModel("", 1, 1);
    }

    function test_RevertWhen_removeModel_notFound() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ModelNotFound.selector, provider, "gpt"));
        vm.prank(provider);
        registry.removeModel("gpt");
    }

    function test_RevertWhen_getModelPrice_notFound() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ModelNotFound.selector, provider, "gpt"));
        registry.getModelPrice(provider, "gpt");
    }

    function test_setTokenPrice_setsNativeAndErc20() public {
        vm.startPrank(provider);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.TokenPriceSet(provider, address(0), 0.02 ether);
        registry.setTokenPrice(address(0), 0.02 ether);
        registry.setTokenPrice(address(usdc), 3e6);
        vm.stopPrank();
        assertEq(registry.priceOf(provider, address(0)), 0.02 ether, "native");
        assertEq(registry.getProvider(provider).pricePerHour, 0.02 ether, "native in record");
        assertEq(registry.priceOf(provider, address(usdc)), 3e6, "usdc");
    }

    function test_RevertWhen_setTokenPrice_tokenNotAllowed() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.PaymentTokenNotAllowed.selector, stranger));
        vm.prank(provider);
        registry.setTokenPrice(stranger, 1);
    }

    function test_RevertWhen_setTokenPrice_priceTooHigh() public {
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRegistry.PriceTooHigh.selector, 2 ** 96, uint256(type(uint96).max))
        );
        vm.prank(provider);
        registry.setTokenPrice(address(usdc), 2 ** 96);
    }

    function test_priceOf_zeroWhenTokenDisallowed() public {
        vm.prank(admin);
        registry.setPaymentTokenAllowed(address(usdc), false);
        assertEq(registry.priceOf(provider, address(usdc)), 0, "disallowed token has no price");
        assertFalse(registry.isAvailable(provider, address(usdc), 1), "not available in usdc");
    }

    function test_setMaxConcurrentRentals_limitsRentals() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CapacitySet(provider, 1);
        vm.prank(provider);
        registry.setMaxConcurrentRentals(1);
        assertTrue(registry.isAvailable(provider, address(0), 1), "one slot");
        _createEth(1, 1);
        assertFalse(registry.isAvailable(provider, address(0), 1), "full");
    }

    function test_heartbeat_updatesTimestamp() public {
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.Heartbeat(provider, block.timestamp);
        vm.prank(provider);
        registry.heartbeat();
        assertEq(registry.getProvider(provider).lastHeartbeat, block.timestamp, "heartbeat");
    }

    function test_RevertWhen_heartbeat_notRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotRegistered.selector, stranger));
        vm.prank(stranger);
        registry.heartbeat();
    }

    function test_deactivate_reactivate() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderDeactivated(provider);
        vm.prank(provider);
        registry.deactivate();
        assertFalse(registry.getProvider(provider).active, "inactive");
        assertFalse(registry.isAvailable(provider, address(0), 0), "unavailable");

        vm.warp(block.timestamp + 5 hours);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderReactivated(provider, block.timestamp);
        vm.prank(provider);
        registry.reactivate();
        assertTrue(registry.getProvider(provider).active, "active");
        assertEq(registry.getProvider(provider).lastHeartbeat, block.timestamp, "reactivation is a heartbeat");
    }

    function test_RevertWhen_deactivate_notActive() public {
        vm.startPrank(provider);
        registry.deactivate();
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderNotActive.selector, provider));
        registry.deactivate();
        vm.stopPrank();
    }

    function test_RevertWhen_reactivate_alreadyActive() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.ProviderAlreadyActive.selector, provider));
        vm.prank(provider);
        registry.reactivate();
    }

    function test_RevertWhen_reactivate_stakeTooLow() public {
        vm.startPrank(provider);
        registry.requestUnstake(0.95 ether);
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.StakeTooLow.selector, 0.05 ether, 0.1 ether));
        registry.reactivate();
        vm.stopPrank();
    }

    // -------------------------------------------------------------------------------- stake

    function test_addStake_increasesStake() public {
        vm.deal(provider, 1 ether);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.StakeAdded(provider, 0.5 ether, 1.5 ether);
        vm.prank(provider);
        registry.addStake{value: 0.5 ether}();
        assertEq(registry.getProvider(provider).stake, 1.5 ether, "stake");
    }

    function test_RevertWhen_addStake_zero() public {
        vm.expectRevert(IComputeRegistry.AmountZero.selector);
        vm.prank(provider);
        registry.addStake();
    }

    function test_requestUnstake_thenWithdrawAfterUnbonding() public {
        uint256 unlock = block.timestamp + 7 days;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.UnstakeRequested(provider, 0.4 ether, 0.6 ether, 0.4 ether, unlock);
        vm.prank(provider);
        registry.requestUnstake(0.4 ether);
        IComputeRegistry.ProviderInfo memory p = registry.getProvider(provider);
        assertEq(p.stake, 0.6 ether, "bonded");
        assertEq(p.pendingUnstake, 0.4 ether, "pending");
        assertEq(p.unstakeUnlockTime, unlock, "unlock");
        assertTrue(p.active, "still above min stake");

        vm.warp(unlock);
        uint256 before = provider.balance;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.StakeWithdrawn(provider, 0.4 ether);
        vm.prank(provider);
        registry.withdrawStake();
        assertEq(provider.balance - before, 0.4 ether, "paid out");
        assertEq(registry.getProvider(provider).pendingUnstake, 0, "no pending");
        assertEq(registry.getProvider(provider).unstakeUnlockTime, 0, "no unlock");
    }

    function test_requestUnstake_belowMinStakeDeactivates() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderDeactivated(provider);
        vm.prank(provider);
        registry.requestUnstake(STAKE);
        assertFalse(registry.getProvider(provider).active, "deactivated");
    }

    function test_RevertWhen_requestUnstake_zero() public {
        vm.expectRevert(IComputeRegistry.AmountZero.selector);
        vm.prank(provider);
        registry.requestUnstake(0);
    }

    function test_RevertWhen_requestUnstake_exceedsStake() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.UnstakeExceedsStake.selector, STAKE + 1, STAKE));
        vm.prank(provider);
        registry.requestUnstake(STAKE + 1);
    }

    function test_RevertWhen_withdrawStake_notRequested() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.UnstakeNotRequested.selector, provider));
        vm.prank(provider);
        registry.withdrawStake();
    }

    function test_RevertWhen_withdrawStake_locked() public {
        vm.startPrank(provider);
        registry.requestUnstake(0.1 ether);
        vm.warp(block.timestamp + 7 days - 1);
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.UnstakeLocked.selector, block.timestamp + 1));
        registry.withdrawStake();
        vm.stopPrank();
    }

    function test_RevertWhen_withdrawStake_transferFails() public {
        EthRefuser refuser = new EthRefuser();
        refuser.register{value: 0.1 ether}(registry);
        refuser.requestUnstake(registry, 0.1 ether);
        vm.warp(block.timestamp + 7 days);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeRegistry.NativeTransferFailed.selector, address(refuser), 0.1 ether)
        );
        refuser.withdrawStake(registry);
    }

    // -------------------------------------------------------------------------------- governance

    function test_governance_setters() public {
        vm.startPrank(admin);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.MinStakeSet(1 ether);
        registry.setMinStake(1 ether);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.UnbondingPeriodSet(1 days);
        registry.setUnbondingPeriod(1 days);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.TreasurySet(stranger);
        registry.setTreasury(stranger);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.DowntimeSlashSet(0.2 ether, 5_000);
        registry.setDowntimeSlash(0.2 ether, 5_000);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.PaymentTokenAllowed(address(usdc), false);
        registry.setPaymentTokenAllowed(address(usdc), false);
        vm.stopPrank();
        assertEq(registry.minStake(), 1 ether, "min stake");
        assertEq(registry.unbondingPeriod(), 1 days, "unbonding");
        assertEq(registry.treasury(), stranger, "treasury");
        assertEq(registry.downtimeSlashAmount(), 0.2 ether, "downtime slash");
        assertEq(registry.reporterRewardBps(), 5_000, "reporter bps");
        assertFalse(registry.isPaymentTokenAllowed(address(usdc)), "usdc disallowed");
        assertTrue(registry.isPaymentTokenAllowed(address(0)), "native always allowed");
    }

    function test_RevertWhen_governance_notAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registry.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(stranger);
        registry.setMinStake(0);
    }

    function test_RevertWhen_setDowntimeSlash_bpsTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.BpsTooHigh.selector, 10_001, 10_000));
        vm.prank(admin);
        registry.setDowntimeSlash(1, 10_001);
    }

    function test_RevertWhen_zeroAddress() public {
        vm.startPrank(admin);
        vm.expectRevert(IComputeRegistry.ZeroAddress.selector);
        registry.setTreasury(address(0));
        vm.expectRevert(IComputeRegistry.ZeroAddress.selector);
        registry.setPaymentTokenAllowed(address(0), true);
        vm.stopPrank();
        vm.expectRevert(IComputeRegistry.ZeroAddress.selector);
        new ComputeRegistry(address(0), treasury);
    }

    // -------------------------------------------------------------------------------- capacity

    function test_reserveCapacity_returnsLockedPriceAndCounts() public {
        vm.prank(address(rental));
        uint256 price = registry.reserveCapacity(provider, address(usdc), 3);
        assertEq(price, USDC_RATE, "price");
        IComputeRegistry.ProviderInfo memory p = registry.getProvider(provider);
        assertEq(p.gpusInUse, 3, "in use");
        assertEq(p.activeRentals, 1, "rentals");
        assertEq(registry.availableGpus(provider), 5, "available");
        vm.prank(address(rental));
        registry.releaseCapacity(provider, 3);
        assertEq(registry.getProvider(provider).gpusInUse, 0, "released");
        assertEq(registry.getProvider(provider).activeRentals, 0, "rentals released");
    }

    function test_RevertWhen_reserveCapacity_notRentalRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registry.RENTAL_ROLE()
            )
        );
        vm.prank(stranger);
        registry.reserveCapacity(provider, address(0), 1);
    }

    function test_RevertWhen_releaseCapacity_underflow() public {
        vm.expectRevert(abi.encodeWithSelector(IComputeRegistry.CapacityUnderflow.selector, provider));
        vm.prank(address(rental));
        registry.releaseCapacity(provider, 1);
    }

    function test_setHardware_belowInUseBlocksNewRentals() public {
        _createEth(6, 1);
        vm.prank(provider);
        registry.setHardware(_hardware(4));
        assertEq(registry.availableGpus(provider), 0, "over-committed means none available");
        assertFalse(registry.isAvailable(provider, address(0), 1), "cannot fit");
        assertTrue(registry.isAvailable(provider, address(0), 0), "cpu-only still fits");
    }
}
