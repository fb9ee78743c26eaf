/**
 * A chain + indexer stack for the indexer e2e tests: anvil on a free port, the forge deploy script writing a
 * temp deployments file, and `ponder start` on a free port (PGlite in a temp dir, or Postgres).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import { type Chain, createPublicClient, defineChain, http, type PublicClient } from "viem";
import { createRelayer, type Relayer, type RelayerOptions } from "../../relayer/src/app.ts";
import type { RelayerConfig } from "../../relayer/src/config.ts";
import { silentLogger } from "../../relayer/src/logger.ts";
import { type Anvil, type Deployments, deployContracts, startAnvil } from "../../tools/lib/chain.ts";
import { type Indexer, startIndexer } from "../../tools/lib/indexer.ts";
import { freePort } from "../../tools/lib/ports.ts";

export type Stack = {
  anvil: Anvil;
  deployments: Deployments;
  deploymentsFile: string;
  indexer: Indexer;
  stop(): Promise<void>;
};

export async function startStack({
  databaseUrl,
  env,
}: {
  databaseUrl?: string;
  env?: NodeJS.ProcessEnv;
} = {}): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "compute-e2e-"));
  const anvil = await startAnvil({ port: await freePort(), logFile: path.join(dir, "anvil.log") });
  try {
    const deploymentsFile = path.join(dir, "deployments.json");
    const deployments = await deployContracts({ rpcUrl: anvil.rpcUrl, deploymentsFile });
    const indexer = await startIndexer({
      rpcUrl: anvil.rpcUrl,
      deploymentsFile,
      port: await freePort(),
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
      ...(env === undefined ? {} : { env }),
      logFile: path.join(dir, "indexer.log"),
    });
    return {
      anvil,
      deployments,
      deploymentsFile,
      indexer,
      async stop() {
        await indexer.stop();
        await anvil.proc.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await anvil.proc.stop();
    throw err;
  }
}

/** Polls `fn` every 25 ms until it returns a value (not undefined), up to `timeoutMs`; returns it and the time taken. */
export async function within<T>(
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  let last: unknown;
  while (performance.now() - t0 < timeoutMs) {
    try {
      const v = await fn();
      if (v !== undefined) return { value: v, ms: performance.now() - t0 };
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not seen within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
}

/** The stack's chain for viem, and a public client on it. */
export function stackClient(stack: Stack): { chain: Chain; publicClient: PublicClient } {
  const chain = defineChain({
    id: 31337,
    name: "anvil",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [stack.anvil.rpcUrl] } },
  });
  return {
    chain,
    publicClient: createPublicClient({
      chain,
      transport: http(stack.anvil.rpcUrl),
      pollingInterval: 50,
    }) as PublicClient,
  };
}

/** An in-process relayer on the stack (anvil key #9, the stack's indexer, an uncached provider list). */
export function stackRelayer(
  stack: Stack,
  dbFile: string,
  config: Partial<Pick<RelayerConfig, "downtimeCheckIntervalMs">> = {},
  options: RelayerOptions = { gateway: { providersCacheMs: 0 } },
): Promise<Relayer> {
  const d = stack.deployments;
  return createRelayer(
    {
      rpcUrl: stack.anvil.rpcUrl,
      privateKey: anvilAccounts[9].privateKey,
      deployments: { chainId: 31337, rental: d.ComputeRental, usdc: d.USDC, registry: d.ComputeRegistry },
      dbFile,
      rateLimit: { perSecond: 1000, capacity: 1000 },
      indexerUrl: stack.indexer.url,
      ...config,
    },
    silentLogger,
    options,
  );
}
