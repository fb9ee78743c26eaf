/**
 * Network names. x402 v2 uses CAIP-2 (`eip155:<chainId>`). x402 v1 used fixed names (`base`,
 * `base-sepolia`, …) for a closed list of public chains; a chain without a v1 name (anvil's 31337, any
 * private chain) is written in CAIP-2 in v1 messages too. Both forms are accepted when parsing.
 */
import type { Network } from "@x402/core/types";

/** The v1 names of the chains that have one (from the x402 v1 network list). */
const V1_NAMES: Readonly<Record<string, number>> = {
  ethereum: 1,
  sepolia: 11155111,
  base: 8453,
  "base-sepolia": 84532,
  polygon: 137,
  "polygon-amoy": 80002,
  avalanche: 43114,
  "avalanche-fuji": 43113,
  abstract: 2741,
  "abstract-testnet": 11124,
  iotex: 4689,
  sei: 1329,
  "sei-testnet": 1328,
  peaq: 3338,
  story: 1514,
  educhain: 41923,
  celo: 42220,
};

/** `eip155:<chainId>`. */
export function caip2(chainId: number): Network {
  return `eip155:${chainId}`;
}

/** The network string put in v1 messages: the legacy v1 name where one exists, CAIP-2 otherwise. */
export function v1NetworkName(chainId: number): string {
  for (const [name, id] of Object.entries(V1_NAMES)) if (id === chainId) return name;
  return caip2(chainId);
}

/** The chain id of a v1 name or a CAIP-2 `eip155:` network; `undefined` if neither. */
export function chainIdOfNetwork(network: string): number | undefined {
  const m = /^eip155:(\d+)$/.exec(network);
  if (m?.[1] !== undefined) {
    const id = Number(m[1]);
    return Number.isSafeInteger(id) && id > 0 ? id : undefined;
  }
  return V1_NAMES[network];
}
