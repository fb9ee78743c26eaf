// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ComputeFixture} from "./ComputeFixture.sol";
import {ComputeRental} from "../../contracts/ComputeRental.sol";
import {ComputeRegistry} from "../../contracts/ComputeRegistry.sol";
import {IComputeRental} from "../../contracts/interfaces/IComputeRental.sol";

/// @dev A renter whose receive() tries to take its refund twice (and to settle/extend mid-payout).
contract MaliciousRenter {
    ComputeRental internal immutable rental;
    uint256 public reentries;
    uint256 public reentrySuccesses;
    bool internal attackEnd;

    constructor(ComputeRental rental_) {
        rental = rental_;
    }

    function create(address provider, uint256 value) external returns (uint256) {
        return rental.createSession{value: value}(provider, 1, "ssh-ed25519 AAAA evil", 1, address(0));
    }

    function end(uint256 id) external {
        rental.endSession(id);
    }

    function withdraw() external {
        rental.withdraw(address(0));
    }

    receive() external payable {
        if (reentries++ > 0) return;
        try rental.withdraw(address(0)) {
            reentrySuccesses++;
        } catch {}
        try rental.endSession(1) {
            reentrySuccesses++;
        } catch {}
    }
}

/// @dev A provider whose stake withdrawal tries to withdraw again.
contract MaliciousProvider {
    ComputeRegistry internal immutable registry;
    uint256 public reentrySuccesses;
    bool internal entered;

    constructor(ComputeRegistry registry_) {
        registry = registry_;
    }

    function register() external payable {
        registry.register{value: msg.value}("https://evil", "", 1);
        registry.requestUnstake(msg.value);
    }

    function withdrawStake() external {
        registry.withdrawStake();
    }

    receive() external payable {
        if (entered) return;
        entered = true;
        try registry.withdrawStake() {
            reentrySuccesses++;
        } catch {}
        try registry.withdraw() {
            reentrySuccesses++;
        } catch {}
    }
}

contract ReentrancyTest is ComputeFixture {
    function test_withdraw_reentrantRenterGetsPaidOnce() public {
        MaliciousRenter attacker = new MaliciousRenter(rental);
        vm.deal(address(attacker), 1 ether);
        uint256 otherId = _createEth(1, 1); // someone else's escrow the attacker would like to drain
        uint256 id = attacker.create(provider, ETH_RATE);
        attacker.end(id);
        assertEq(rental.credits(address(attacker), address(0)), ETH_RATE, "full refund credited");

        uint256 before = address(attacker).balance;
        attacker.withdraw();
        assertEq(address(attacker).balance - before, ETH_RATE, "paid exactly once");
        assertEq(attacker.reentries(), 1, "receive ran once");
        assertEq(attacker.reentrySuccesses(), 0, "every reentrant call reverted");
        assertEq(address(rental).balance, ETH_RATE, "other renter's escrow intact");
        assertEq(uint8(_status(otherId)), uint8(IComputeRental.SessionStatus.Pending), "other session untouched");
    }

    function test_withdrawStake_reentrantProviderGetsPaidOnce() public {
        MaliciousProvider attacker = new MaliciousProvider(registry);
        attacker.register{value: 0.1 ether}();
        vm.warp(block.timestamp + 7 days);
        uint256 before = address(registry).balance;
        attacker.withdrawStake();
        assertEq(address(attacker).balance, 0.1 ether, "paid once");
        assertEq(attacker.reentrySuccesses(), 0, "reentry blocked");
        assertEq(address(registry).balance, before - 0.1 ether, "only its own stake left");
    }
}
