/**
 * Relayer configuration, parsed once from the environment.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Anvil's account #9: the local relayer's default gas key (never use on a real chain). */
const ANVIL_KEY_9 = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";

const empty = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const envSchema = z.object({
  RELAYER_PORT: z.coerce.number().int().min(0).max(65535).default(4010),
  RELAYER_HOST: z.preprocess(empty, z.string().default("127.0.0.1")),
  RPC_URL: z.preprocess(empty, z.url().default("http://127.0.0.1:8545")),
  RELAYER_PRIVATE_KEY: z.preprocess(
    empty,
    z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/)
      .optional(),
  ),
  DEPLOYMENTS_FILE: z.preprocess(empty, z.string().optional()),
  RELAYER_DB: z.preprocess(empty, z.string().default(".data/relayer.sqlite")),
  RELAYER_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(20),
  RELAYER_RATE_LIMIT_BURST: z.coerce.number().positive().default(40),
  LOG_LEVEL: z.preprocess(empty, z.string().default("info")),
  INDEXER_URL: z.preprocess(empty, z.url().default("http://127.0.0.1:42069")),
  GATEWAY_TIMEOUT_MS: z.preprocess(empty, z.coerce.number().int().positive().default(30_000)),
  GATEWAY_MAX_BODY_BYTES: z.preprocess(
    empty,
    z.coerce
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
  ),
  /** The SSH relay's port (`ssh -p 2222 s<id>@gateway`); `off` disables it. */
  SSH_RELAY_PORT: z.preprocess(
    empty,
    z.union([z.literal("off"), z.coerce.number().int().min(0).max(65535)]).default(2222),
  ),
  /** How often the downtime keeper looks for providers silent over 4 hours (ms; 0 disables). */
  DOWNTIME_CHECK_INTERVAL_MS: z.preprocess(empty, z.coerce.number().int().min(0).default(300_000)),
  /** Where the relay keeps its host key and client key (default: next to RELAYER_DB). */
  RELAYER_DATA_DIR: z.preprocess(empty, z.string().optional()),
});

export type RelayerConfig = {
  port: number;
  host: string;
  rpcUrl: string;
  privateKey: `0x${string}`;
  deployments: {
    chainId: number;
    rental: `0x${string}`;
    usdc: `0x${string}`;
    registry: `0x${string}`;
    /** Block the contracts were deployed at (where event searches start). */
    startBlock?: number;
  };
  dbFile: string;
  rateLimit: { perSecond: number; capacity: number };
  logLevel: string;
  /** Indexer the gateway discovers providers from. */
  indexerUrl: string;
  /** Gateway: time allowed to a provider's response headers before trying the next one, ms. */
  gatewayTimeoutMs: number;
  /** Gateway: largest inference request body, bytes. */
  gatewayMaxBodyBytes: number;
  /** Downtime keeper interval, ms (0: off). */
  downtimeCheckIntervalMs: number;
  /** SSH relay port, or undefined when off. */
  sshRelayPort: number | undefined;
  /** The relayer's key files (SSH relay host and client keys). */
  dataDir: string;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayerConfig {
  const e = envSchema.parse(env);
  const chainFile = e.DEPLOYMENTS_FILE ?? path.join(REPO_ROOT, "deployments", "31337.json");
  const d = JSON.parse(readFileSync(chainFile, "utf8")) as Record<string, string | number>;
  if (e.RELAYER_PRIVATE_KEY === undefined && Number(d.chainId) !== 31337) {
    throw new Error("RELAYER_PRIVATE_KEY is required outside the local chain (31337)");
  }
  return {
    port: e.RELAYER_PORT,
    host: e.RELAYER_HOST,
    rpcUrl: e.RPC_URL,
    privateKey: (e.RELAYER_PRIVATE_KEY ?? ANVIL_KEY_9) as `0x${string}`,
    deployments: {
      chainId: Number(d.chainId),
      rental: d.ComputeRental as `0x${string}`,
      usdc: d.USDC as `0x${string}`,
      registry: d.ComputeRegistry as `0x${string}`,
      ...(d.startBlock !== undefined ? { startBlock: Number(d.startBlock) } : {}),
    },
    dbFile: path.resolve(REPO_ROOT, e.RELAYER_DB),
    rateLimit: { perSecond: e.RELAYER_RATE_LIMIT_PER_SECOND, capacity: e.RELAYER_RATE_LIMIT_BURST },
    logLevel: e.LOG_LEVEL,
    indexerUrl: e.INDEXER_URL,
    gatewayTimeoutMs: e.GATEWAY_TIMEOUT_MS,
    gatewayMaxBodyBytes: e.GATEWAY_MAX_BODY_BYTES,
    downtimeCheckIntervalMs: e.DOWNTIME_CHECK_INTERVAL_MS,
    sshRelayPort: e.SSH_RELAY_PORT === "off" ? undefined : e.SSH_RELAY_PORT,
    dataDir: path.resolve(REPO_ROOT, e.RELAYER_DATA_DIR ?? path.dirname(e.RELAYER_DB)),
  };
}
