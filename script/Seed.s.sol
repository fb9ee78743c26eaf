// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Script} from "forge-std/Script.sol";
import {LocalUSDC} from "../contracts/test/LocalUSDC.sol";

/// @title Seed
/// @notice Local chain only: mints LocalUSDC to the first ten anvil accounts (`SEED_USDC_AMOUNT` each, default
/// 1,000,000 USDC). Reads the token from `$DEPLOYMENTS_FILE` or `deployments/31337.json`; must be broadcast by
/// the deployer (`PRIVATE_KEY`, default anvil key 0), the token's only minter.
///
///   forge script script/Seed.s.sol --rpc-url $RPC_URL --broadcast
contract Seed is Script {
    uint256 internal constant ANVIL_KEY_0 = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;
    string internal constant MNEMONIC = "test test test test test test test test test test test junk";

    function run() external {
        string memory path = vm.envOr(
            "DEPLOYMENTS_FILE", string.concat(vm.projectRoot(), "/deployments/", vm.toString(block.chainid), ".json")
        );
        LocalUSDC usdc = LocalUSDC(vm.parseJsonAddress(vm.readFile(path), ".USDC"));
        uint256 amount = vm.envOr("SEED_USDC_AMOUNT", uint256(1_000_000e6));
        vm.startBroadcast(vm.envOr("PRIVATE_KEY", ANVIL_KEY_0));
        for (uint32 i = 0; i < 10; i++) {
            usdc.mint(vm.addr(vm.deriveKey(MNEMONIC, i)), amount);
        }
        vm.stopBroadcast();
    }
}
