/**
 * Node configuration, parsed once from the environment at the edge.
 */
import { DEFAULT_STREAM_FLUSH_MS } from "./http/sse.ts";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** The repository root (two levels above node/src). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export const BACKEND_KINDS = ["llamacpp", "mock", "ollama", "openai"] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyToUndefined, z.url().optional());

const envSchema = z.object({
  COMPUTE_PORT: z.coerce.number().int().min(0).max(65535).default(4007),
  COMPUTE_HOST: z.preprocess(emptyToUndefined, z.string().default("0.0.0.0")),
  MODEL_BACKEND: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default("llamacpp,mock")
      .transform((s) => [
        ...new Set(
          s
            .split(",")
            .map((b) => b.trim().toLowerCase())
            .filter((b) => b !== ""),
        ),
      ])
      .pipe(z.array(z.enum(BACKEND_KINDS)).min(1)),
  ),
  OLLAMA_HOST: z.preprocess(emptyToUndefined, z.string().default("http://127.0.0.1:11434")),
  OPENAI_BASE_URL: z.preprocess(emptyToUndefined, z.url().default("https://api.openai.com/v1")),
  OPENAI_API_KEY: optionalString,
  MODEL_PATH: z.preprocess(emptyToUndefined, z.string().default("models/compute-tiny.gguf")),
  /** `alias=model` pairs, comma separated: `llama2=compute-tiny`. */
  MODEL_ALIASES: z.preprocess(emptyToUndefined, z.string().default("")),
  /**
   * Model names the embedded model answers when no backend serves them, so that the docs' examples
   * (`llama2`, `nomic-embed-text`) work on a fresh install. Not listed in /v1/models. "none" disables.
   */
  FALLBACK_MODELS: z.preprocess(emptyToUndefined, z.string().default("llama2,nomic-embed-text")),
  LLAMA_CONTEXT_SIZE: z.coerce.number().int().min(0).default(0),
  /** CPU threads for the embedded engine; 0 = automatic (1 for tiny models). */
  LLAMA_THREADS: z.coerce.number().int().min(0).max(512).default(0),
  LLAMA_SEQUENCES: z.coerce.number().int().min(1).max(64).default(1),
  LLAMA_GPU: z.preprocess(emptyToUndefined, z.enum(["auto", "cuda", "vulkan", "metal", "false"]).default("auto")),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(4 * 1024 * 1024),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).default(300_000),
  /** Streaming: at most one socket write per stream per this many ms (frames stay one per token); 0 = every frame. */
  STREAM_FLUSH_MS: z.coerce.number().int().min(0).max(1000).default(DEFAULT_STREAM_FLUSH_MS),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  ),
  RPC_URL: optionalUrl,
  PRIVATE_KEY: optionalString,
  INDEXER_URL: optionalUrl,
  /** The deployments file script/Deploy.s.sol wrote (contract addresses). */
  DEPLOYMENTS_FILE: z.preprocess(emptyToUndefined, z.string().default("deployments/31337.json")),
  /** The relayer: x402 facilitator and gasless session relay. */
  RELAYER_URL: z.preprocess(emptyToUndefined, z.url().default("http://127.0.0.1:4010")),
  /** Where the node keeps its state (spent payment nonces, rentals). */
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default(".data/node")),
  /** How often the node sends `heartbeat()` (ms); the registry's downtime rule is 4 hours. 0 disables. */
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** Rentals: the SSH server's port. */
  SSH_PORT: z.coerce.number().int().min(0).max(65535).default(2222),
  /** Host name renters are told to ssh to (the session's `ssh.host`). */
  SSH_HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
  /** Sessions provisioning or active at once. */
  MAX_RENTALS: z.coerce.number().int().min(0).default(4),
  /** "false" turns rentals off; default on when a chain and PRIVATE_KEY are configured. */
  DOCKER_ENABLED: z.preprocess(emptyToUndefined, z.enum(["true", "false", "1", "0"]).optional()),
  /** Image of session containers. */
  SESSION_IMAGE: z.preprocess(emptyToUndefined, z.string().default("compute/session:latest")),
  /** dockerd's socket/URL (dockerode reads DOCKER_HOST itself; kept here to log it). */
  DOCKER_HOST: optionalString,
  /** Blocks the rentals watcher waits before acting on an event (default 0 on 31337, else 2). */
  RENTAL_CONFIRMATIONS: z.coerce.number().int().min(0).optional(),
  /** How often the rentals watcher polls the chain (ms; default 250 on 31337, else 4000). */
  RENTAL_POLL_MS: z.coerce.number().int().min(10).optional(),
  /**
   * This node's name on a shared dockerd (in its containers' names and `compute.instance` label). Default: a
   * random name chosen once and kept in DATA_DIR.
   */
  RENTAL_INSTANCE: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "lower-case letters, digits and '-', at most 32, not starting with '-'")
      .optional(),
  ),
  /**
   * SSH relays this node trusts to log in for renters (the relayer's `ssh -p 2222 s<id>@gateway`): OpenSSH
   * public key lines or paths of .pub files, comma-separated. Unset: no relay can log in.
   */
  SSH_RELAY_KEYS: optionalString,
  /** How often the node withdraws its rental earnings (ms; 0 disables). */
  RENTAL_WITHDRAW_INTERVAL_MS: z.coerce.number().int().min(0).default(600_000),
});

export type NodeConfig = {
  port: number;
  host: string;
  backends: BackendKind[];
  ollamaHost: string;
  openaiBaseUrl: string;
  openaiApiKey: string | undefined;
  modelPath: string;
  modelAliases: Record<string, string>;
  fallbackModels: string[];
  llama: {
    contextSize: number | undefined;
    threads: number | undefined;
    sequences: number;
    gpu: "auto" | "cuda" | "vulkan" | "metal" | false;
  };
  maxBodyBytes: number;
  requestTimeoutMs: number;
  streamFlushMs: number;
  shutdownTimeoutMs: number;
  logLevel: string;
  dataDir: string;
  rentals: {
    /** DOCKER_ENABLED, defaulting to "on when a chain and PRIVATE_KEY are configured". */
    enabled: boolean;
    /** Whether DOCKER_ENABLED was set explicitly (then an unreachable dockerd is fatal). */
    explicit: boolean;
    sshPort: number;
    sshHost: string;
    maxRentals: number;
    image: string;
    dockerHost: string | undefined;
    confirmations: number | undefined;
    pollIntervalMs: number | undefined;
    withdrawIntervalMs: number;
    instance: string | undefined;
    /** Trusted SSH relay public keys (OpenSSH lines). */
    relayKeys: string[];
  };
  chain:
    | {
        rpcUrl: string;
        privateKey: string | undefined;
        indexerUrl: string | undefined;
        deploymentsFile: string;
        relayerUrl: string;
        heartbeatIntervalMs: number;
      }
    | undefined;
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function parseAliases(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    if (pair.trim() === "") continue;
    const [alias, target] = pair.split("=").map((s) => s.trim());
    if (!alias || !target) throw new ConfigError(`MODEL_ALIASES: expected alias=model, got "${pair}"`);
    out[alias] = target;
  }
  return out;
}

/** SSH_RELAY_KEYS: each comma-separated entry is a key line, or a file holding key lines (`#` comments allowed). */
function parseRelayKeys(value: string | undefined): string[] {
  const keys: string[] = [];
  for (const entry of (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    if (/^(ssh-|ecdsa-)/.test(entry)) {
      keys.push(entry);
      continue;
    }
    let text: string;
    try {
      text = fs.readFileSync(path.resolve(REPO_ROOT, entry), "utf8");
    } catch (err) {
      throw new ConfigError(`SSH_RELAY_KEYS: cannot read ${entry}: ${(err as Error).message}`);
    }
    const lines = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    if (lines.length === 0) throw new ConfigError(`SSH_RELAY_KEYS: ${entry} holds no key`);
    keys.push(...lines);
  }
  return keys;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid environment: ${issues}`);
  }
  const e = parsed.data;
  return {
    port: e.COMPUTE_PORT,
    host: e.COMPUTE_HOST,
    backends: e.MODEL_BACKEND,
    ollamaHost: e.OLLAMA_HOST.includes("://") ? e.OLLAMA_HOST : `http://${e.OLLAMA_HOST}`,
    openaiBaseUrl: e.OPENAI_BASE_URL.replace(/\/+$/, ""),
    openaiApiKey: e.OPENAI_API_KEY,
    modelPath: path.resolve(REPO_ROOT, e.MODEL_PATH),
    modelAliases: parseAliases(e.MODEL_ALIASES),
    fallbackModels:
      e.FALLBACK_MODELS.trim().toLowerCase() === "none"
        ? []
        : e.FALLBACK_MODELS.split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
    llama: {
      contextSize: e.LLAMA_CONTEXT_SIZE === 0 ? undefined : e.LLAMA_CONTEXT_SIZE,
      threads: e.LLAMA_THREADS === 0 ? undefined : e.LLAMA_THREADS,
      sequences: e.LLAMA_SEQUENCES,
      gpu: e.LLAMA_GPU === "false" ? false : e.LLAMA_GPU,
    },
    maxBodyBytes: e.MAX_BODY_BYTES,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    streamFlushMs: e.STREAM_FLUSH_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    dataDir: path.resolve(REPO_ROOT, e.DATA_DIR),
    rentals: {
      enabled:
        e.DOCKER_ENABLED === undefined
          ? e.RPC_URL !== undefined && e.PRIVATE_KEY !== undefined
          : e.DOCKER_ENABLED === "true" || e.DOCKER_ENABLED === "1",
      explicit: e.DOCKER_ENABLED !== undefined,
      sshPort: e.SSH_PORT,
      sshHost: e.SSH_HOST,
      maxRentals: e.MAX_RENTALS,
      image: e.SESSION_IMAGE,
      dockerHost: e.DOCKER_HOST,
      confirmations: e.RENTAL_CONFIRMATIONS,
      pollIntervalMs: e.RENTAL_POLL_MS,
      withdrawIntervalMs: e.RENTAL_WITHDRAW_INTERVAL_MS,
      instance: e.RENTAL_INSTANCE,
      relayKeys: parseRelayKeys(e.SSH_RELAY_KEYS),
    },
    chain: e.RPC_URL
      ? {
          rpcUrl: e.RPC_URL,
          privateKey: e.PRIVATE_KEY,
          indexerUrl: e.INDEXER_URL,
          deploymentsFile: path.resolve(REPO_ROOT, e.DEPLOYMENTS_FILE),
          relayerUrl: e.RELAYER_URL.replace(/\/+$/, ""),
          heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
        }
      : undefined,
  };
}
