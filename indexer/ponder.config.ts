/**
 * Ponder config: chain, RPC URLs, contract addresses and start block all come from the deployments file
 * (`DEPLOYMENTS_FILE`, default deployments/31337.json) and the environment; nothing is hard-coded.
 *
 * Environment: `DEPLOYMENTS_FILE`, `PONDER_RPC_URL_<chainId>` or `RPC_URL`, `PONDER_RPC_ALIASES`,
 * `PONDER_POLLING_INTERVAL` (ms), `DATABASE_URL` (Postgres; PGlite when unset), `PONDER_PGLITE_DIR`.
 */
import { computeRegistryAbi, computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { createConfig } from "ponder";
import { readDeployments, rpcUrls } from "./config/deployments.ts";

const deployments = readDeployments();
const local = deployments.chainId === 31337 || deployments.chainId === 1337;
const pollingInterval = Number(process.env.PONDER_POLLING_INTERVAL ?? (local ? 100 : 1_000));
const databaseUrl = process.env.DATABASE_URL ?? process.env.DATABASE_PRIVATE_URL;

export default createConfig({
  database: databaseUrl
    ? { kind: "postgres", connectionString: databaseUrl }
    : { kind: "pglite", directory: process.env.PONDER_PGLITE_DIR ?? ".ponder/pglite" },
  chains: {
    chain: {
      id: deployments.chainId,
      rpc: rpcUrls(deployments.chainId),
      pollingInterval,
      // A local chain is restarted and reorged at will: never trust cached RPC responses from a previous run.
      disableCache: local,
    },
  },
  contracts: {
    ComputeRegistry: {
      chain: "chain",
      abi: computeRegistryAbi,
      address: deployments.ComputeRegistry,
      startBlock: deployments.startBlock,
    },
    ComputeRental: {
      chain: "chain",
      abi: computeRentalAbi,
      address: deployments.ComputeRental,
      startBlock: deployments.startBlock,
    },
  },
});
