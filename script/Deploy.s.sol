// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Script} from "forge-std/Script.sol";
import {ComputeRegistry} from "../contracts/ComputeRegistry.sol";
import {ComputeRental} from "../contracts/ComputeRental.sol";
import {LocalUSDC} from "../contracts/test/LocalUSDC.sol";

/// @title Deploy
/// @notice Deploys ComputeRegistry and ComputeRental (wired: RENTAL_ROLE + SLASHER_ROLE), and on chain 31337 a
/// LocalUSDC (allowed as payment token and used for gasless sessions). Writes the addresses as JSON to
/// `$DEPLOYMENTS_FILE`, or `deployments/<chainId>.json`.
/// @dev Environment: `PRIVATE_KEY` (deployer and admin; default anvil key 0), `TREASURY` (default deployer),
/// `PROTOCOL_FEE_BPS` (default 250), `USDC_ADDRESS` (chains other than 31337; optional).
///
///   forge script script/Deploy.s.sol --rpc-url $RPC_URL --broadcast
contract Deploy is Script {
    uint256 internal constant ANVIL_KEY_0 = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;
    uint256 internal constant LOCAL_CHAIN_ID = 31337;

    /// @notice What was deployed.
    struct Deployment {
        uint256 chainId;
        address registry;
        address rental;
        address usdc;
        uint256 startBlock;
        address treasury;
        address deployer;
        uint256 feeBps;
    }

    function run() external returns (Deployment memory d) {
        uint256 privateKey = vm.envOr("PRIVATE_KEY", ANVIL_KEY_0);
        d.deployer = vm.addr(privateKey);
        d.treasury = vm.envOr("TREASURY", d.deployer);
        d.feeBps = vm.envOr("PROTOCOL_FEE_BPS", uint256(250));
        d.chainId = block.chainid;
        // The simulation runs on the latest block; the first deploy transaction lands after it, so indexing from
        // here misses nothing.
        d.startBlock = block.number;

        vm.startBroadcast(privateKey);
        ComputeRegistry registry = new ComputeRegistry(d.deployer, d.treasury);
        ComputeRental rental = new ComputeRental(registry, d.deployer, d.treasury, d.feeBps);
        registry.grantRole(registry.RENTAL_ROLE(), address(rental));
        registry.grantRole(registry.SLASHER_ROLE(), address(rental));
        if (block.chainid == LOCAL_CHAIN_ID) {
            d.usdc = address(new LocalUSDC());
        } else {
            d.usdc = vm.envOr("USDC_ADDRESS", address(0));
        }
        if (d.usdc != address(0)) {
            registry.setPaymentTokenAllowed(d.usdc, true);
            rental.setAuthorizationToken(d.usdc);
        }
        vm.stopBroadcast();

        d.registry = address(registry);
        d.rental = address(rental);
        _write(d);
    }

    function _write(Deployment memory d) internal {
        string memory key = "deployment";
        vm.serializeUint(key, "chainId", d.chainId);
        vm.serializeAddress(key, "ComputeRegistry", d.registry);
        vm.serializeAddress(key, "ComputeRental", d.rental);
        vm.serializeAddress(key, "USDC", d.usdc);
        vm.serializeUint(key, "startBlock", d.startBlock);
        vm.serializeAddress(key, "treasury", d.treasury);
        vm.serializeUint(key, "feeBps", d.feeBps);
        string memory json = vm.serializeAddress(key, "deployer", d.deployer);
        string memory path = vm.envOr(
            "DEPLOYMENTS_FILE", string.concat(vm.projectRoot(), "/deployments/", vm.toString(block.chainid), ".json")
        );
        vm.writeJson(json, path);
    }
}
