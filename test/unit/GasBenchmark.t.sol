// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {console2} from "forge-std/console2.sol";
import {ComputeFixture} from "./ComputeFixture.sol";

/// @notice Gas benchmarks of the hot paths, as whole transactions: 21,000 base + calldata (EIP-2028: 16 gas per
/// non-zero byte, 4 per zero byte) + execution measured around the call. State is prepared in setUp so storage
/// starts cold and with its real original values, as on a chain.
/// Targets: register <= 150k, createSession (ETH) <= 130k, endSession <= 90k.
contract GasBenchmarkTest is ComputeFixture {
    address internal newcomer = makeAddr("newcomer");
    uint256 internal pendingId;
    uint256 internal activeId;
    uint256 internal warmActiveId;

    function setUp() public override {
        super.setUp();
        vm.deal(newcomer, 1 ether);
        // A session that already paid the provider and the treasury once (steady state).
        uint256 first = _createEth(1, 2);
        _activate(first);
        warmActiveId = _createEth(2, 24);
        _activate(warmActiveId);
        activeId = _createEth(2, 24);
        _activate(activeId);
        vm.warp(block.timestamp + 90 minutes);
        vm.prank(renter);
        rental.endSession(first);
        vm.prank(renter);
        rental.withdraw(address(0));
        _fundFreshRenter();
    }

    address internal freshRenter = makeAddr("fresh-renter");

    function _fundFreshRenter() internal {
        vm.deal(freshRenter, 10 ether);
    }

    function _txGas(bytes memory data, uint256 execGas) internal pure returns (uint256 total) {
        uint256 calldataGas;
        for (uint256 i; i < data.length; ++i) {
            calldataGas += data[i] == 0 ? 4 : 16;
        }
        return 21_000 + calldataGas + execGas;
    }

    function test_gas_register() public {
        bytes memory data = abi.encodeCall(registry.register, ("https://mynode.example.com:4007", "", 0.01 ether));
        vm.prank(newcomer);
        uint256 g = gasleft();
        registry.register{value: 0.1 ether}("https://mynode.example.com:4007", "", 0.01 ether);
        uint256 total = _txGas(data, g - gasleft());
        console2.log("register (docs' cast line, empty attestation) tx gas:", total);
        assertLe(total, 150_000, "register <= 150k");
    }

    function test_gas_register_withAttestation() public {
        string memory attestation = string(new bytes(1024));
        bytes memory data =
            abi.encodeCall(registry.register, ("https://mynode.example.com:4007", attestation, 0.01 ether));
        vm.prank(newcomer);
        uint256 g = gasleft();
        registry.register{value: 0.1 ether}("https://mynode.example.com:4007", attestation, 0.01 ether);
        uint256 total = _txGas(data, g - gasleft());
        console2.log("register (1 KiB attestation) tx gas:", total);
    }

    function test_gas_createSession_eth() public {
        bytes memory data = abi.encodeCall(rental.createSession, (provider, 24, SSH_KEY, 2, address(0)));
        vm.prank(freshRenter);
        uint256 g = gasleft();
        rental.createSession{value: ETH_RATE * 48}(provider, 24, SSH_KEY, 2, address(0));
        uint256 total = _txGas(data, g - gasleft());
        console2.log("createSession (ETH, 2 GPUs, 24 h) tx gas:", total);
        assertLe(total, 130_000, "createSession <= 130k");
    }

    function test_gas_createSession_usdc() public {
        bytes memory data = abi.encodeCall(rental.createSession, (provider, 24, SSH_KEY, 2, address(usdc)));
        vm.prank(renter);
        uint256 g = gasleft();
        rental.createSession(provider, 24, SSH_KEY, 2, address(usdc));
        uint256 total = _txGas(data, g - gasleft());
        console2.log("createSession (USDC, 2 GPUs, 24 h) tx gas:", total);
    }

    function test_gas_activateSession() public {
        uint256 id = _createEth(1, 1);
        bytes memory data = abi.encodeCall(rental.activateSession, (id, "{\"host\":\"10.0.0.5\",\"port\":2222}"));
        vm.prank(provider);
        uint256 g = gasleft();
        rental.activateSession(id, "{\"host\":\"10.0.0.5\",\"port\":2222}");
        console2.log("activateSession tx gas (approx., warm):", _txGas(data, g - gasleft()));
    }

    /// Steady state: provider and treasury already hold credits in ETH; the renter's refund slot is fresh.
    function test_gas_endSession() public {
        bytes memory data = abi.encodeCall(rental.endSession, (activeId));
        vm.prank(renter);
        uint256 g = gasleft();
        rental.endSession(activeId);
        uint256 total = _txGas(data, g - gasleft());
        console2.log("endSession (renter, early, steady state) tx gas:", total);
        assertLe(total, 90_000, "endSession <= 90k");
    }

    /// Worst case: the provider and treasury's first-ever credit in this token (three fresh slots).
    function test_gas_endSession_firstCreditsInToken() public {
        uint256 id = _createUsdc(2, 24);
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        bytes memory data = abi.encodeCall(rental.endSession, (id));
        vm.prank(renter);
        uint256 g = gasleft();
        rental.endSession(id);
        console2.log("endSession (first credits in token, warm session) tx gas:", _txGas(data, g - gasleft()));
    }

    function test_gas_withdraw() public {
        vm.prank(renter);
        rental.endSession(activeId);
        bytes memory data = abi.encodeCall(rental.withdraw, (address(0)));
        vm.prank(renter);
        uint256 g = gasleft();
        rental.withdraw(address(0));
        console2.log("withdraw (ETH) tx gas (approx.):", _txGas(data, g - gasleft()));
    }

    /// Gasless end of a USDC session: the refund is pushed to the renter (one ERC-20 transfer), not credited.
    function test_gas_endSessionBySig_usdc() public {
        uint256 id = _createUsdc(2, 24);
        _activate(id);
        vm.warp(block.timestamp + 1 hours);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(renterKey, rental.hashEndSession(id, 0, block.timestamp));
        bytes memory sig = abi.encodePacked(r, s, v);
        bytes memory data = abi.encodeCall(rental.endSessionBySig, (id, block.timestamp, sig));
        uint256 g = gasleft();
        rental.endSessionBySig(id, block.timestamp, sig);
        console2.log("endSessionBySig (USDC, refund pushed) tx gas:", _txGas(data, g - gasleft()));
    }
}
