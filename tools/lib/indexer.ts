/**
 * Starts the Ponder indexer (`ponder start`) as a managed process against a deployments file and RPC URL.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./chain.ts";
import { type ManagedProcess, start, waitForHttp } from "./process.ts";

export const PONDER_BIN = path.join(REPO_ROOT, "node_modules", "ponder", "dist", "esm", "bin", "ponder.js");
export const INDEXER_DIR = path.join(REPO_ROOT, "indexer");

export type Indexer = { proc: ManagedProcess; url: string; port: number; stop(): Promise<void> };

export async function startIndexer({
  rpcUrl,
  deploymentsFile,
  port,
  databaseUrl,
  pgliteDir,
  schema = "compute",
  logFile,
  env = {},
  waitReady = true,
  timeoutMs = 120_000,
  onLine,
}: {
  rpcUrl: string;
  deploymentsFile: string;
  port: number;
  /** Postgres; PGlite in `pgliteDir` (a fresh temp dir by default) when unset. */
  databaseUrl?: string;
  pgliteDir?: string;
  schema?: string;
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Wait for `/ready` (backfill done). */
  waitReady?: boolean;
  timeoutMs?: number;
  onLine?: (line: string) => void;
}): Promise<Indexer> {
  const tempDir =
    databaseUrl === undefined && pgliteDir === undefined
      ? await mkdtemp(path.join(os.tmpdir(), "compute-pglite-"))
      : undefined;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PONDER_TELEMETRY_DISABLED: "1",
    PONDER_LOG_LEVEL: process.env.PONDER_LOG_LEVEL ?? "info",
    DEPLOYMENTS_FILE: deploymentsFile,
    RPC_URL: rpcUrl,
    PORT: String(port),
    ...env,
  };
  for (const k of Object.keys(childEnv)) if (k.startsWith("PONDER_RPC_URL_")) delete childEnv[k];
  delete childEnv.DATABASE_URL;
  delete childEnv.DATABASE_PRIVATE_URL;
  delete childEnv.PONDER_PGLITE_DIR;
  if (databaseUrl !== undefined) childEnv.DATABASE_URL = databaseUrl;
  else childEnv.PONDER_PGLITE_DIR = pgliteDir ?? tempDir;
  const proc = start(
    process.execPath,
    [PONDER_BIN, "--log-format", "pretty", "start", "--schema", schema, "--hostname", "127.0.0.1"],
    {
      name: "indexer",
      cwd: INDEXER_DIR,
      env: childEnv,
      ...(logFile ? { logFile } : {}),
      ...(onLine ? { onLine } : {}),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`${url}/${waitReady ? "ready" : "health"}`, { timeoutMs, proc });
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, url, port, stop };
}
