// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {ComputeRegistry} from "../../../contracts/ComputeRegistry.sol";
import {ComputeRental} from "../../../contracts/ComputeRental.sol";
import {LocalUSDC} from "../../../contracts/test/LocalUSDC.sol";
import {IComputeRegistry} from "../../../contracts/interfaces/IComputeRegistry.sol";
import {IComputeRental} from "../../../contracts/interfaces/IComputeRental.sol";

/// @notice Drives the protocol through valid actions only (the suite runs with fail_on_revert): sessions in ETH
/// and USDC (create, activate, reject, cancel, extend, end, withdraw) and providers (register, slash, unstake,
/// withdraw stake, downtime reports, reactivate), with time passing. Ghost variables record what was paid.
contract ComputeHandler is Test {
    ComputeRegistry public registry;
    ComputeRental public rental;
    LocalUSDC public usdc;
    address public admin;
    address public treasury;

    address[] public renters;
    mapping(address renter => uint256) internal _renterKeys;

    address[] public providers;
    address[] public accounts; // everyone who may hold credits in either contract
    address public reporter = makeAddr("reporter");

    mapping(uint256 sessionId => uint256) public ghostPrepaid;
    mapping(uint256 sessionId => uint256) public ghostProviderPaid; // provider payout + fee at settlement
    uint256 public ghostSessions;
    mapping(bytes32 => uint256) public calls;

    uint256 internal constant PROVIDER_SLOTS = 5;

    constructor(ComputeRegistry registry_, ComputeRental rental_, LocalUSDC usdc_, address admin_, address treasury_) {
        registry = registry_;
        rental = rental_;
        usdc = usdc_;
        admin = admin_;
        treasury = treasury_;
        accounts.push(treasury);
        accounts.push(reporter);
        for (uint256 i; i < 3; ++i) {
            (address r, uint256 key) = makeAddrAndKey(string.concat("renter", vm.toString(i)));
            _renterKeys[r] = key;
            renters.push(r);
            accounts.push(r);
            vm.deal(r, 1_000_000 ether); // USDC is minted by the suite, the token's minter
            vm.prank(r);
            usdc.approve(address(rental), type(uint256).max);
        }
        for (uint256 i; i < PROVIDER_SLOTS; ++i) {
            address p = makeAddr(string.concat("provider", vm.toString(i)));
            providers.push(p);
            accounts.push(p);
        }
        registerProvider(0, 1 ether, 8);
        registerProvider(1, 0.5 ether, 0);
    }

    // ---------------------------------------------------------------------------------------------- helpers

    function providerCount() external view returns (uint256) {
        return providers.length;
    }

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function _pick(address[] storage list, uint256 seed) internal view returns (address) {
        return list[seed % list.length];
    }

    function _session(uint256 seed) internal view returns (uint256 id, IComputeRental.SessionInfo memory s) {
        uint256 next = rental.nextSessionId();
        if (next == 1) return (0, s);
        id = 1 + seed % (next - 1);
        s = rental.getSession(id);
    }

    function _open(IComputeRental.SessionInfo memory s) internal pure returns (bool) {
        return s.status == IComputeRental.SessionStatus.Pending || s.status == IComputeRental.SessionStatus.Active;
    }

    // ---------------------------------------------------------------------------------------------- providers

    function registerProvider(uint256 seed, uint256 stake, uint256 gpus) public {
        address p = providers[seed % PROVIDER_SLOTS];
        if (registry.getProvider(p).registered) return;
        stake = _bound(stake, 0.1 ether, 10 ether);
        gpus = _bound(gpus, 0, 16);
        vm.deal(p, stake);
        vm.startPrank(p);
        registry.register{value: stake}("https://provider.example:4007", "att", 0.01 ether + seed % 1e15);
        registry.setHardware(
            IComputeRegistry.Hardware("gpu", uint16(gpus), 80, 32, 256, 1000, IComputeRegistry.TeeType.None)
        );
        registry.setTokenPrice(address(usdc), 1e6 + seed % 1e6);
        vm.stopPrank();
        calls["registerProvider"]++;
    }

    function slash(uint256 seed, uint256 amount, uint256 beneficiarySeed) external {
        address p = _pick(providers, seed);
        if (!registry.getProvider(p).registered) return;
        amount = _bound(amount, 0, 2 ether);
        vm.prank(admin);
        registry.slash(p, amount, "fault", bytes32(seed), _pick(accounts, beneficiarySeed));
        calls["slash"]++;
    }

    function requestUnstake(uint256 seed, uint256 amount) external {
        address p = _pick(providers, seed);
        uint256 stake = registry.getProvider(p).stake;
        if (stake == 0) return;
        amount = _bound(amount, 1, stake);
        vm.prank(p);
        registry.requestUnstake(amount);
        calls["requestUnstake"]++;
    }

    function withdrawStake(uint256 seed) external {
        address p = _pick(providers, seed);
        IComputeRegistry.ProviderInfo memory info = registry.getProvider(p);
        if (info.pendingUnstake == 0) return;
        if (block.timestamp < info.unstakeUnlockTime) vm.warp(info.unstakeUnlockTime);
        vm.prank(p);
        registry.withdrawStake();
        calls["withdrawStake"]++;
    }

    function reportDowntime(uint256 seed) external {
        address p = _pick(providers, seed);
        IComputeRegistry.ProviderInfo memory info = registry.getProvider(p);
        if (!info.active || block.timestamp <= info.lastHeartbeat + 4 hours) return;
        vm.prank(reporter);
        registry.reportDowntime(p);
        calls["reportDowntime"]++;
    }

    function reactivate(uint256 seed) external {
        address p = _pick(providers, seed);
        IComputeRegistry.ProviderInfo memory info = registry.getProvider(p);
        if (!info.registered || info.active) return;
        if (info.stake < registry.minStake()) {
            uint256 top = registry.minStake() - info.stake;
            vm.deal(p, top);
            vm.prank(p);
            registry.addStake{value: top}();
        }
        vm.prank(p);
        registry.reactivate();
        calls["reactivate"]++;
    }

    function withdrawSlashProceeds(uint256 seed) external {
        address a = _pick(accounts, seed);
        if (registry.credits(a) == 0) return;
        vm.prank(a);
        registry.withdraw();
        calls["withdrawSlashProceeds"]++;
    }

    // ---------------------------------------------------------------------------------------------- sessions

    function createSession(uint256 renterSeed, uint256 providerSeed, uint256 gpus, uint256 hours_, bool payUsdc)
        external
    {
        address r = _pick(renters, renterSeed);
        address token = payUsdc ? address(usdc) : address(0);
        hours_ = _bound(hours_, 1, 72);
        // The first provider (from the seed on) that can take a rental.
        for (uint256 i; i < PROVIDER_SLOTS; ++i) {
            address p = providers[(providerSeed % PROVIDER_SLOTS + i) % PROVIDER_SLOTS];
            if (!registry.isAvailable(p, token, 0)) continue;
            uint256 g = _bound(gpus, 0, registry.availableGpus(p));
            uint256 cost = rental.quote(p, token, g, hours_);
            // Keep the provider alive so that downtime reports stay the exception.
            vm.prank(p);
            registry.heartbeat();
            vm.prank(r);
            uint256 id = rental.createSession{value: payUsdc ? 0 : cost}(p, hours_, "ssh-ed25519 AAAA k", g, token);
            ghostPrepaid[id] = cost;
            ghostSessions++;
            calls["createSession"]++;
            return;
        }
    }

    function activate(uint256 seed) external {
        (uint256 id, IComputeRental.SessionInfo memory s) = _session(seed);
        if (id == 0 || s.status != IComputeRental.SessionStatus.Pending) return;
        vm.prank(s.provider);
        rental.activateSession(id, "conn");
        calls["activate"]++;
    }

    function reject(uint256 seed) external {
        (uint256 id, IComputeRental.SessionInfo memory s) = _session(seed);
        if (id == 0 || s.status != IComputeRental.SessionStatus.Pending) return;
        vm.prank(s.provider);
        rental.rejectSession(id, "busy");
        calls["reject"]++;
    }

    function cancel(uint256 seed) external {
        (uint256 id, IComputeRental.SessionInfo memory s) = _session(seed);
        if (id == 0 || s.status != IComputeRental.SessionStatus.Pending) return;
        uint256 cancellableAt = s.createdAt + rental.provisionTimeout();
        if (block.timestamp < cancellableAt) vm.warp(cancellableAt);
        vm.prank(s.renter);
        rental.cancelSession(id);
        calls["cancel"]++;
    }

    function extend(uint256 seed, uint256 addedHours) external {
        (uint256 id, IComputeRental.SessionInfo memory s) = _session(seed);
        if (id == 0 || !_open(s)) return;
        if (s.status == IComputeRental.SessionStatus.Active && block.timestamp >= s.expiresAt) return;
        addedHours = _bound(addedHours, 1, 24);
        uint256 added = s.ratePerHour * (s.gpuCount == 0 ? 1 : s.gpuCount) * addedHours;
        vm.prank(s.renter);
        rental.extendSession{value: s.token == address(0) ? added : 0}(id, addedHours);
        ghostPrepaid[id] += added;
        calls["extend"]++;
    }

    function end(uint256 seed, uint256 who) external {
        (uint256 id, IComputeRental.SessionInfo memory s) = _session(seed);
        if (id == 0 || !_open(s)) return;
        address caller = who % 3 == 0 ? s.renter : who % 3 == 1 ? s.provider : reporter;
        if (caller == reporter && (s.status != IComputeRental.SessionStatus.Active || block.timestamp < s.expiresAt)) {
            caller = s.renter;
        }
        uint256 before = rental.credits(s.provider, s.token) + rental.credits(treasury, s.token);
        vm.prank(caller);
        rental.endSession(id);
        ghostProviderPaid[id] = rental.credits(s.provider, s.token) + rental.credits(treasury, s.token) - before;
        calls["end"]++;
    }

    /// Gasless end (relayer submits the renter's signature): an ERC-20 refund is pushed to the renter's wallet.
    function endBySig(uint256 seed) external {
        (uint256 id, IComputeRental.SessionInfo memory s) = _session(seed);
        if (id == 0 || !_open(s)) return;
        bytes32 digest = rental.hashEndSession(id, rental.nonces(s.renter), block.timestamp);
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(_renterKeys[s.renter], digest);
        uint256 before = rental.credits(s.provider, s.token) + rental.credits(treasury, s.token);
        uint256 walletBefore = s.token == address(0) ? 0 : usdc.balanceOf(s.renter);
        (, uint256 refund,,) = rental.previewSettlement(id);
        rental.endSessionBySig(id, block.timestamp, abi.encodePacked(r, sig, v));
        ghostProviderPaid[id] = rental.credits(s.provider, s.token) + rental.credits(treasury, s.token) - before;
        if (s.token != address(0)) assertEq(usdc.balanceOf(s.renter) - walletBefore, refund, "refund pushed");
        calls["endBySig"]++;
    }

    function withdraw(uint256 seed, bool usdcToken) external {
        address a = _pick(accounts, seed);
        address token = usdcToken ? address(usdc) : address(0);
        if (rental.credits(a, token) == 0) return;
        vm.prank(a);
        rental.withdraw(token);
        calls["withdraw"]++;
    }

    function warp(uint256 secondsForward) external {
        vm.warp(block.timestamp + _bound(secondsForward, 1, 3 hours));
        calls["warp"]++;
    }
}
