/**
 * Shared set-up for the x402 and relayer e2e tests: a real anvil, the forge deploy script, LocalUSDC minted
 * to fresh payers (who hold no ETH), the relayer served on a free port, and a node-like Hono app with the
 * node's real inference routes (mock backend) behind `x402Payments`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { toOpenAIError } from "@jeju/compute-sdk/openai/index";
import { Hono } from "hono";
import { type Account, createPublicClient, createWalletClient, defineChain, http, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { MockBackend } from "../../node/src/backends/mock.ts";
import { ModelRegistry } from "../../node/src/backends/registry.ts";
import { InflightTracker } from "../../node/src/http/inflight.ts";
import { silentLogger } from "../../node/src/logger.ts";
import { type X402PaymentsOptions, x402Payments } from "../../node/src/payments/index.ts";
import { SqliteSpentNonceStore } from "../../node/src/payments/store.ts";
import { chatCompletionsRoute } from "../../node/src/routes/chat.ts";
import { completionsRoute } from "../../node/src/routes/completions.ts";
import { embeddingsRoute } from "../../node/src/routes/embeddings.ts";
import { createRelayer, type Relayer } from "../../relayer/src/app.ts";
import { silentLogger as relayerLog } from "../../relayer/src/logger.ts";
import { localUsdcAbi } from "@jeju/compute-sdk/abis/index";
import {
  type AnvilInstance,
  anvilAccounts,
  type Deployments,
  deployContracts,
  deployerKey,
  freePort,
  startAnvil,
} from "@jeju/compute-sdk/testing/anvil";

export const usdcAbi = localUsdcAbi;

/** Anvil account #9 pays the relayer's gas. */
export const RELAYER_KEY = anvilAccounts[9].privateKey;

export type Chain = {
  anvil: AnvilInstance;
  deployments: Deployments;
  publicClient: PublicClient;
  tmp: string;
  deployer: Account;
  mint(to: `0x${string}`, amount: bigint): Promise<void>;
  usdcBalance(of: `0x${string}`): Promise<bigint>;
  stop(): Promise<void>;
};

export async function startChain(): Promise<Chain> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "x402-e2e-"));
  const anvil = await startAnvil();
  const deployments = await deployContracts({
    rpcUrl: anvil.rpcUrl,
    deploymentsFile: path.join(tmp, "deployments.json"),
  });
  const chain = defineChain({
    id: 31337,
    name: "anvil",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [anvil.rpcUrl] } },
  });
  const publicClient = createPublicClient({
    chain,
    transport: http(anvil.rpcUrl),
    pollingInterval: 50,
  }) as PublicClient;
  const deployer = privateKeyToAccount(deployerKey);
  const wallet = createWalletClient({ chain, transport: http(anvil.rpcUrl), account: deployer });
  return {
    anvil,
    deployments,
    publicClient,
    tmp,
    deployer,
    async mint(to, amount) {
      const hash = await wallet.writeContract({
        address: deployments.USDC,
        abi: usdcAbi,
        functionName: "mint",
        args: [to, amount],
      });
      await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    },
    usdcBalance: (of) =>
      publicClient.readContract({ address: deployments.USDC, abi: usdcAbi, functionName: "balanceOf", args: [of] }),
    async stop() {
      await anvil.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** A fresh account holding `usdc` LocalUSDC and no ETH. */
export async function fundedPayer(chain: Chain, usdc: bigint) {
  const account = privateKeyToAccount(generatePrivateKey());
  if (usdc > 0n) await chain.mint(account.address, usdc);
  return account;
}

export type RunningRelayer = { relayer: Relayer; url: string; server: ServerType; close(): Promise<void> };

export async function startRelayer(
  chain: Chain,
  opts: { dbFile?: string; perSecond?: number; capacity?: number; indexerUrl?: string } = {},
): Promise<RunningRelayer> {
  const relayer = await createRelayer(
    {
      rpcUrl: chain.anvil.rpcUrl,
      privateKey: RELAYER_KEY,
      deployments: {
        chainId: chain.deployments.chainId,
        rental: chain.deployments.ComputeRental,
        usdc: chain.deployments.USDC,
        registry: chain.deployments.ComputeRegistry,
      },
      dbFile: opts.dbFile ?? path.join(chain.tmp, `relayer-${Date.now()}-${Math.random()}.sqlite`),
      rateLimit: { perSecond: opts.perSecond ?? 1000, capacity: opts.capacity ?? 1000 },
      ...(opts.indexerUrl === undefined ? {} : { indexerUrl: opts.indexerUrl }),
    },
    relayerLog,
  );
  const port = await freePort();
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: relayer.app.fetch, port, hostname: "127.0.0.1" }, () => resolve(s));
  });
  return {
    relayer,
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          relayer.close();
          resolve();
        });
      }),
  };
}

export const PAID_MODEL = "paid-model";
/** 2 µUSDC per prompt token, 5 µUSDC per completion token. */
export const PAID_PRICE = { inputPerToken: 2n, outputPerToken: 5n };

/** Word count: the tokenizer the test node injects, so charged amounts are exact. */
export const countWords = (text: string) => text.split(/\s+/).filter((w) => w !== "").length;

/**
 * A node-like app: `x402Payments` on the inference paths, then the node's real routes (what the lead mounts
 * in node/src/app.ts), served by the mock backend under `mock-model` (free) and `paid-model` (priced).
 */
export function nodeApp(
  chain: Chain,
  facilitatorUrl: string,
  payTo: `0x${string}`,
  extra: Partial<X402PaymentsOptions> = {},
) {
  const backend = new MockBackend({ aliases: [PAID_MODEL] });
  const registry = new ModelRegistry([backend], { log: silentLogger });
  const ctx = {
    registry,
    inflight: new InflightTracker(),
    log: silentLogger,
    maxBodyBytes: 4 * 1024 * 1024,
    requestTimeoutMs: 60_000,
    streamFlushMs: 0,
  };
  const store = new SqliteSpentNonceStore(path.join(chain.tmp, `node-${Date.now()}-${Math.random()}.sqlite`));
  const payments = x402Payments({
    pricing: { [PAID_MODEL]: PAID_PRICE },
    facilitatorUrl,
    chainId: chain.deployments.chainId,
    usdc: chain.deployments.USDC,
    payTo,
    spentNonceStore: store,
    countTokens: countWords,
    retryIntervalMs: 0,
    ...extra,
  });
  const app = new Hono();
  for (const p of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]) app.use(p, payments);
  app.route("/v1/chat/completions", chatCompletionsRoute(ctx));
  app.route("/v1/completions", completionsRoute(ctx));
  app.route("/v1/embeddings", embeddingsRoute(ctx));
  app.onError((err, c) => {
    const e = toOpenAIError(err);
    return c.json(e.toJSON(), e.status as 500);
  });
  /** A fetch that goes to the app without a port. */
  const fetchApp = (input: string | URL | Request, init?: RequestInit) =>
    Promise.resolve(app.fetch(new Request(input, init)));
  return { app, backend, store, payments, fetch: fetchApp };
}
