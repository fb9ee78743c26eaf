/**
 * Indexer benchmark (`npm run bench:indexer`):
 *
 *  1. Historical backfill: 10,000 contract events (heartbeats, model updates, session creations and
 *     settlements across 4 providers and 5 renters) are put on a fresh anvil before the indexer starts; reports
 *     events/s of Ponder's backfill and the wall time from `ponder start` to `/ready`, then checks the counts.
 *  2. Live latency: 10 sessions created one by one on the running chain; for each, the time from the mined
 *     transaction (receipt) until GraphQL returns the session. Reports p50 / p90 / max (target p50 ≤ 1 s).
 *
 * Options (env): BENCH_EVENTS (default 10000), BENCH_LIVE (default 10), BENCH_DB=postgres (own throw-away
 * cluster instead of PGlite).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { computeRegistryAbi, computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { createIndexerClient } from "@jeju/compute-sdk/indexer/client";
import { encodeFunctionData, type Hex, parseEther, zeroAddress } from "viem";
import { ANVIL_KEYS, deployContracts, rpc, startAnvil } from "../../tools/lib/chain.ts";
import { startIndexer } from "../../tools/lib/indexer.ts";
import { freePort } from "../../tools/lib/ports.ts";
import { type Postgres, startPostgres } from "../../tools/lib/postgres.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const LIVE = Number(process.env.BENCH_LIVE ?? 10);
const usePostgres = process.env.BENCH_DB === "postgres";

// Anvil's unlocked default accounts: #1-#4 providers, #5-#9 renters.
const ACCOUNTS = [
  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
  "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
  "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
  "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
  "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
  "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
  "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
] as const;
const PROVIDERS = ACCOUNTS.slice(1, 5);
/** The provider for event i, round robin. */
function pick<T>(items: readonly T[], i: number): T {
  const item = items[i % items.length];
  if (item === undefined) throw new Error("no items to pick from");
  return item;
}
const RENTERS = ACCOUNTS.slice(5, 10);
const RENTER = ACCOUNTS[5];
const PRICE = parseEther("0.001");

type Tx = { from: string; to: string; data: Hex; value?: bigint; gas: bigint };

const log = (msg: string) => console.log(`[bench] ${msg}`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** Sends `txs` from anvil's unlocked accounts in JSON-RPC batches, mining a block every `perBlock`. */
async function sendAll(rpcUrl: string, txs: Tx[], perBlock = 400): Promise<void> {
  await rpc(rpcUrl, "evm_setAutomine", [false]);
  // Explicit nonces: anvil handles a batch concurrently and would give identical calls the same nonce.
  const nonces = new Map<string, number>();
  for (const from of new Set(txs.map((t) => t.from))) {
    nonces.set(from, Number(await rpc<string>(rpcUrl, "eth_getTransactionCount", [from, "pending"])));
  }
  const nextNonce = (from: string) => {
    const n = nonces.get(from) ?? 0;
    nonces.set(from, n + 1);
    return `0x${n.toString(16)}`;
  };
  for (let i = 0; i < txs.length; i += perBlock) {
    const batch = txs.slice(i, i + perBlock).map((tx, j) => ({
      jsonrpc: "2.0",
      id: i + j,
      method: "eth_sendTransaction",
      params: [
        {
          from: tx.from,
          to: tx.to,
          data: tx.data,
          gas: `0x${tx.gas.toString(16)}`,
          nonce: nextNonce(tx.from),
          ...(tx.value === undefined ? {} : { value: `0x${tx.value.toString(16)}` }),
        },
      ],
    }));
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    const answers = (await res.json()) as { error?: { message: string } }[];
    const failed = answers.find((a) => a.error !== undefined);
    if (failed) throw new Error(`eth_sendTransaction: ${failed.error?.message}`);
    await rpc(rpcUrl, "evm_mine");
  }
  await rpc(rpcUrl, "evm_setAutomine", [true]);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "compute-bench-"));
  const anvil = await startAnvil({ port: await freePort(), extraArgs: ["--gas-limit", "300000000"] });
  let pg: Postgres | undefined;
  let stopIndexer: (() => Promise<void>) | undefined;
  try {
    const deploymentsFile = path.join(dir, "deployments.json");
    const d = await deployContracts({ rpcUrl: anvil.rpcUrl, deploymentsFile, privateKey: ANVIL_KEYS[0] });
    const reg = (fn: string, args: unknown[]) =>
      encodeFunctionData({ abi: computeRegistryAbi, functionName: fn as never, args: args as never });
    const rent = (fn: string, args: unknown[]) =>
      encodeFunctionData({ abi: computeRentalAbi, functionName: fn as never, args: args as never });

    // Setup (counted in the total): 4 registrations.
    const setup: Tx[] = PROVIDERS.map((p, i) => ({
      from: p,
      to: d.ComputeRegistry,
      data: reg("register", [`https://provider-${i}.example.com:4007`, "", PRICE]),
      value: parseEther("0.1"),
      gas: 400_000n,
    }));
    await sendAll(anvil.rpcUrl, setup);

    // The workload: 40% heartbeats, 20% model updates, 20% session creations, 20% settlements.
    const sessions = Math.floor(EVENTS * 0.2);
    const models = Math.floor(EVENTS * 0.2);
    const heartbeats = EVENTS - setup.length - 2 * sessions - models;
    const work: Tx[] = [];
    for (let i = 0; i < heartbeats; i++) {
      work.push({
        from: pick(PROVIDERS, i),
        to: d.ComputeRegistry,
        data: reg("heartbeat", []),
        gas: 60_000n,
      });
    }
    for (let i = 0; i < models; i++) {
      work.push({
        from: pick(PROVIDERS, i),
        to: d.ComputeRegistry,
        data: reg("setModel", [`model-${i % 50}`, BigInt(i), BigInt(2 * i)]),
        gas: 200_000n,
      });
    }
    for (let i = 0; i < sessions; i++) {
      work.push({
        // One renter for all: a block orders transactions by sender, so ids map to renters only this way.
        from: RENTER,
        to: d.ComputeRental,
        data: rent("createSession", [PROVIDERS[i % PROVIDERS.length], 1n, "ssh-ed25519 AAAA bench", 0n, zeroAddress]),
        value: PRICE,
        gas: 500_000n,
      });
    }
    const tGen = performance.now();
    await sendAll(anvil.rpcUrl, work);
    // Settle every session (ids 1…sessions) from its renter.
    const ends: Tx[] = [];
    for (let i = 0; i < sessions; i++) {
      ends.push({ from: RENTER, to: d.ComputeRental, data: rent("endSession", [BigInt(i + 1)]), gas: 300_000n });
    }
    await sendAll(anvil.rpcUrl, ends);
    // Bury everything below Ponder's finality depth (30 blocks on unknown chains) so it is all backfill.
    await rpc(anvil.rpcUrl, "anvil_mine", ["0x40"]);
    const head = Number(await rpc<string>(anvil.rpcUrl, "eth_blockNumber"));
    log(
      `generated ${EVENTS} events (+ deploy-time governance events) up to block ${head} in ${((performance.now() - tGen) / 1000).toFixed(1)} s`,
    );

    if (usePostgres) pg = await startPostgres();
    // Ponder logs durations over a second rounded to whole seconds: time the log lines as they arrive instead.
    let backfillStart: number | undefined;
    let backfillMs: number | undefined;
    let indexedEvents = 0;
    const tStart = performance.now();
    const indexer = await startIndexer({
      rpcUrl: anvil.rpcUrl,
      deploymentsFile,
      port: await freePort(),
      ...(pg ? { databaseUrl: pg.url } : {}),
      logFile: path.join(dir, "indexer.log"),
      timeoutMs: 300_000,
      onLine: (line) => {
        const plain = stripVTControlCharacters(line);
        if (backfillStart === undefined && plain.includes("Started backfill indexing"))
          backfillStart = performance.now();
        if (backfillStart !== undefined && plain.includes("Completed backfill indexing across all chains")) {
          backfillMs = performance.now() - backfillStart;
        }
        const range = /Indexed block range .*event_count=(\d+)/.exec(plain);
        if (range) indexedEvents += Number(range[1]);
      },
    });
    stopIndexer = indexer.stop;
    const readyMs = performance.now() - tStart;
    const client = createIndexerClient(indexer.url);
    const stats = await client.stats();
    if (stats.sessions !== sessions || stats.endedSessions !== sessions || stats.providers !== PROVIDERS.length) {
      throw new Error(
        `backfill incomplete: ${JSON.stringify({ sessions: stats.sessions, ended: stats.endedSessions, providers: stats.providers })}`,
      );
    }

    // Live: one session at a time, mined on send (automine), polled through GraphQL every 10 ms.
    const latencies: number[] = [];
    for (let i = 0; i < LIVE; i++) {
      const id = sessions + i + 1;
      const hash = await rpc<Hex>(anvil.rpcUrl, "eth_sendTransaction", [
        {
          from: RENTERS[i % RENTERS.length],
          to: d.ComputeRental,
          data: rent("createSession", [PROVIDERS[0], 1n, "ssh-ed25519 AAAA live", 0n, zeroAddress]),
          value: `0x${PRICE.toString(16)}`,
          gas: "0x7a120",
        },
      ]);
      while ((await rpc<unknown>(anvil.rpcUrl, "eth_getTransactionReceipt", [hash])) === null)
        await new Promise((r) => setTimeout(r, 5));
      const t0 = performance.now();
      for (;;) {
        const data = await client.graphql<{ session: { id: string } | null }>(`{ session(id: "${id}") { id } }`);
        if (data.session !== null) break;
        if (performance.now() - t0 > 10_000) throw new Error(`session ${id} not visible after 10 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      latencies.push(performance.now() - t0);
    }

    const backfillS = (backfillMs ?? Number.NaN) / 1000;
    console.log("\nIndexer benchmark", usePostgres ? "(Postgres)" : "(PGlite)");
    console.log(
      `  backfill:  ${indexedEvents} events indexed in ${backfillS.toFixed(2)} s → ${Math.round(indexedEvents / backfillS)} events/s`,
    );
    console.log(
      `             ponder start → /ready: ${(readyMs / 1000).toFixed(2)} s (${Math.round(indexedEvents / (readyMs / 1000))} events/s including start-up)`,
    );
    console.log(
      `  live:      chain event → GraphQL over ${latencies.length} events: p50 ${pct(latencies, 50).toFixed(0)} ms, ` +
        `p90 ${pct(latencies, 90).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms (target p50 ≤ 1000 ms)`,
    );
    if (pct(latencies, 50) > 1000) process.exitCode = 1;
  } finally {
    await stopIndexer?.();
    await anvil.proc.stop();
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
