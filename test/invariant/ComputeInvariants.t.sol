// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {console2} from "forge-std/console2.sol";
import {ComputeRegistry} from "../../contracts/ComputeRegistry.sol";
import {ComputeRental} from "../../contracts/ComputeRental.sol";
import {LocalUSDC} from "../../contracts/test/LocalUSDC.sol";
import {IComputeRegistry} from "../../contracts/interfaces/IComputeRegistry.sol";
import {IComputeRental} from "../../contracts/interfaces/IComputeRental.sol";
import {ComputeHandler} from "./handlers/ComputeHandler.sol";

contract ComputeInvariantsTest is Test {
    ComputeRegistry internal registry;
    ComputeRental internal rental;
    LocalUSDC internal usdc;
    ComputeHandler internal handler;
    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ComputeRegistry(admin, treasury);
        rental = new ComputeRental(registry, admin, treasury, 250);
        usdc = new LocalUSDC();
        vm.startPrank(admin);
        registry.grantRole(registry.RENTAL_ROLE(), address(rental));
        registry.grantRole(registry.SLASHER_ROLE(), address(rental));
        registry.setPaymentTokenAllowed(address(usdc), true);
        vm.stopPrank();
        handler = new ComputeHandler(registry, rental, usdc, admin, treasury);
        for (uint256 i; i < 3; ++i) {
            usdc.mint(handler.renters(i), 1e18);
        }
        targetContract(address(handler));
    }

    function _openEscrow(address token) internal view returns (uint256 sum) {
        uint256 next = rental.nextSessionId();
        for (uint256 id = 1; id < next; ++id) {
            IComputeRental.SessionInfo memory s = rental.getSession(id);
            bool open =
                s.status == IComputeRental.SessionStatus.Pending || s.status == IComputeRental.SessionStatus.Active;
            if (open && s.token == token) sum += s.prepaid;
        }
    }

    function _credits(address token) internal view returns (uint256 sum) {
        uint256 n = handler.accountCount();
        for (uint256 i; i < n; ++i) {
            sum += rental.credits(handler.accounts(i), token);
        }
    }

    /// Per token: the rental contract holds exactly the open escrow plus the withdrawable credits.
    function invariant_escrowIsSolvent() public view {
        assertEq(address(rental).balance, _openEscrow(address(0)) + _credits(address(0)), "ETH escrow");
        assertEq(usdc.balanceOf(address(rental)), _openEscrow(address(usdc)) + _credits(address(usdc)), "USDC escrow");
    }

    /// No session ever paid its provider (payout + fee) more than its renter prepaid; escrow matches the ghosts.
    function invariant_noProviderPaidMoreThanPrepaid() public view {
        uint256 next = rental.nextSessionId();
        for (uint256 id = 1; id < next; ++id) {
            IComputeRental.SessionInfo memory s = rental.getSession(id);
            assertEq(s.prepaid, handler.ghostPrepaid(id), "prepaid matches what was paid in");
            assertLe(handler.ghostProviderPaid(id), s.prepaid, "provider part <= prepaid");
        }
    }

    /// The registry holds exactly Σ(stake + pending unstake) + Σ slashing credits: slashed stake never vanishes.
    function invariant_stakeAccountingMatchesBalance() public view {
        uint256 sum;
        uint256 n = handler.providerCount();
        for (uint256 i; i < n; ++i) {
            IComputeRegistry.ProviderInfo memory p = registry.getProvider(handler.providers(i));
            sum += p.stake + p.pendingUnstake;
        }
        uint256 m = handler.accountCount();
        for (uint256 i; i < m; ++i) {
            sum += registry.credits(handler.accounts(i));
        }
        assertEq(address(registry).balance, sum, "registry ETH == stakes + pending + credits");
    }

    /// Capacity in the registry equals what open sessions reserved.
    function invariant_capacityMatchesOpenSessions() public view {
        uint256 n = handler.providerCount();
        uint256 next = rental.nextSessionId();
        for (uint256 i; i < n; ++i) {
            address p = handler.providers(i);
            uint256 gpus;
            uint256 open;
            for (uint256 id = 1; id < next; ++id) {
                IComputeRental.SessionInfo memory s = rental.getSession(id);
                if (
                    s.provider == p
                        && (s.status == IComputeRental.SessionStatus.Pending
                            || s.status == IComputeRental.SessionStatus.Active)
                ) {
                    gpus += s.gpuCount;
                    open++;
                }
            }
            IComputeRegistry.ProviderInfo memory info = registry.getProvider(p);
            assertEq(info.gpusInUse, gpus, "gpus in use");
            assertEq(info.activeRentals, open, "open rentals");
        }
    }

    function afterInvariant() external view {
        console2.log("sessions created:", handler.ghostSessions());
        console2.log("ended:", handler.calls("end"), "cancelled:", handler.calls("cancel"));
        console2.log("ended by signature:", handler.calls("endBySig"));
        console2.log("slashed:", handler.calls("slash"), "downtime reports:", handler.calls("reportDowntime"));
        console2.log("extended:", handler.calls("extend"), "withdrawn stake:", handler.calls("withdrawStake"));
    }
}
