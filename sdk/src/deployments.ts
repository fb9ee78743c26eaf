// The deployments file script/Deploy.s.sol writes (deployments/<chainId>.json): the one place every component
// (node, relayer, indexer, SDK, dev script) learns the contract addresses from.
import { readFileSync } from "node:fs";
import { type Address, getAddress } from "viem";

/** The JSON script/Deploy.s.sol writes. */
export interface Deployments {
  chainId: number;
  ComputeRegistry: Address;
  ComputeRental: Address;
  /** LocalUSDC on 31337; the zero address where none is configured. */
  USDC: Address;
  /** Block to start indexing from (at or before the first deploy transaction). */
  startBlock: number;
  treasury: Address;
  deployer: Address;
  feeBps: number;
}

/** Parses and checks a deployments JSON file. */
export function readDeployments(path: string): Deployments {
  const raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const address = (key: string): Address => {
    const value = raw[key];
    if (typeof value !== "string") throw new Error(`deployments ${path}: missing ${key}`);
    return getAddress(value);
  };
  const integer = (key: string): number => {
    const value = raw[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new Error(`deployments ${path}: bad ${key}`);
    return value;
  };
  return {
    chainId: integer("chainId"),
    ComputeRegistry: address("ComputeRegistry"),
    ComputeRental: address("ComputeRental"),
    USDC: address("USDC"),
    startBlock: integer("startBlock"),
    treasury: address("treasury"),
    deployer: address("deployer"),
    feeBps: integer("feeBps"),
  };
}
