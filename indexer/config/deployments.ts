/**
 * Reads the deployments file written by `script/Deploy.s.sol` (`deployments/<chainId>.json`, or
 * `$DEPLOYMENTS_FILE`). Everything the indexer needs about the chain comes from here and the environment.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Address, getAddress, zeroAddress } from "viem";

export type Deployments = {
  chainId: number;
  ComputeRegistry: Address;
  ComputeRental: Address;
  /** The USDC (LocalUSDC on 31337) payment token; the zero address when none. */
  USDC: Address;
  startBlock: number;
};

/** The repository root (this file lives in indexer/config/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `$DEPLOYMENTS_FILE` (absolute, or relative to the cwd, else to the repo root), default deployments/31337.json. */
export function deploymentsPath(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.DEPLOYMENTS_FILE;
  if (given === undefined || given.trim() === "") return path.join(REPO_ROOT, "deployments", "31337.json");
  if (path.isAbsolute(given)) return given;
  const fromCwd = path.resolve(process.cwd(), given);
  return existsSync(fromCwd) ? fromCwd : path.resolve(REPO_ROOT, given);
}

export function readDeployments(file: string = deploymentsPath()): Deployments {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `cannot read the deployments file ${file} (${(err as Error).message}); deploy first with ` +
        "`forge script script/Deploy.s.sol --rpc-url $RPC_URL --broadcast` or set DEPLOYMENTS_FILE",
    );
  }
  const json = JSON.parse(raw) as Record<string, unknown>;
  const addr = (key: string): Address => {
    const v = json[key];
    if (typeof v !== "string") throw new Error(`deployments file ${file}: missing ${key}`);
    return getAddress(v);
  };
  const num = (key: string): number => {
    const v = json[key];
    const n = typeof v === "string" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`deployments file ${file}: ${key} must be a non-negative integer`);
    }
    return n;
  };
  return {
    chainId: num("chainId"),
    ComputeRegistry: addr("ComputeRegistry"),
    ComputeRental: addr("ComputeRental"),
    USDC: typeof json.USDC === "string" ? getAddress(json.USDC) : zeroAddress,
    startBlock: num("startBlock"),
  };
}

/**
 * RPC URLs for `chainId`: `PONDER_RPC_URL_<chainId>` or `RPC_URL` (comma-separated lists allowed), each expanded
 * into `PONDER_RPC_ALIASES` (default 8) `?alias=N` variants. Ponder rate-limits every URL separately (20 req/s
 * at first), so aliases of the same node multiply backfill throughput against a local anvil.
 */
export function rpcUrls(chainId: number, env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env[`PONDER_RPC_URL_${chainId}`] ?? env.RPC_URL ?? (chainId === 31337 ? "http://127.0.0.1:8545" : "");
  const urls = raw
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length === 0) throw new Error(`no RPC URL: set PONDER_RPC_URL_${chainId} or RPC_URL`);
  const aliases = Math.max(1, Number(env.PONDER_RPC_ALIASES ?? (chainId === 31337 ? 8 : 1)) || 1);
  if (aliases === 1) return urls;
  return urls.flatMap((u) =>
    Array.from({ length: aliases }, (_, i) => {
      const url = new URL(u);
      url.searchParams.set("alias", String(i));
      return url.toString();
    }),
  );
}
