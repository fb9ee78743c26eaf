/**
 * The relayer's inference gateway end to end, with real parts: anvil + the forge deploy + the Ponder indexer
 * (startStack), three provider nodes (the node's real app over the deterministic mock backend) registered
 * on-chain at different per-token prices, the relayer app served on a free port, and the official `openai`
 * client pointed at the relayer's `/v1`. Between the indexer and the relayer sits a pass-through proxy that can
 * freeze its answers, to play an indexer that lags behind the chain (the gateway must trust the chain).
 */
import { serve, type ServerType } from "@hono/node-server";
import { computeRegistryAbi, localUsdcAbi } from "@jeju/compute-sdk/abis/index";
import { createIndexerClient, type IndexerClient } from "@jeju/compute-sdk/indexer/index";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import { caip2, createV1PaymentHeader, decodeBase64Json } from "@jeju/compute-sdk/x402/index";
import type { SettleResponse } from "@x402/core/types";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { Hono } from "hono";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import OpenAI from "openai";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import pino from "pino";
import {
  type Account,
  type Address,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  parseEther,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockBackend } from "../../node/src/backends/mock.ts";
import { startTestNode, type TestNode } from "../../node/src/testing/harness.ts";
import { createRelayer, type Relayer } from "../../relayer/src/app.ts";
import { freePort } from "../../tools/lib/ports.ts";
import { type Stack, startStack, within } from "./indexer-fixture.ts";
import { type Chain, nodeApp, PAID_MODEL } from "./x402-harness.ts";

const MODEL = "mock-model";
const CHAIN_CACHE_MS = 100;

type Json = Record<string, any>;
type Served = { url: string; close(): Promise<void> };

let stack: Stack;
let tmp: string;
let publicClient: PublicClient;
let indexer: IndexerClient;
let proxy: Served & { freeze(): void; thaw(): void };
let relayer: Relayer;
let relayerServer: Served;
let client: OpenAI;
const logs: Json[] = [];

/** The three honest providers: A is the cheapest, then B, then C. */
type P = { name: string; account: Account; node: TestNode; backend: MockBackend; price: bigint };
let A: P;
let B: P;
let C: P;

function listen(app: Hono): Promise<Served> {
  return new Promise((resolve) => {
    let server: ServerType;
    void freePort().then((port) => {
      server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () =>
        resolve({
          url: `http://127.0.0.1:${port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        }),
      );
    });
  });
}

/** A pass-through proxy to the indexer; frozen, it replays the last answer it saw for each URL. */
async function indexerProxy(target: string) {
  const seen = new Map<string, { status: number; body: string }>();
  let frozen = false;
  const app = new Hono();
  app.all("*", async (c) => {
    const u = new URL(c.req.url);
    const key = `${u.pathname}${u.search}`;
    if (frozen) {
      const s = seen.get(key);
      return s
        ? c.body(s.body, s.status as 200, { "content-type": "application/json" })
        : c.json({ error: "frozen" }, 503);
    }
    const res = await fetch(`${target}${key}`);
    const body = await res.text();
    seen.set(key, { status: res.status, body });
    return c.body(body, res.status as 200, { "content-type": res.headers.get("content-type") ?? "application/json" });
  });
  const served = await listen(app);
  return {
    ...served,
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
    },
  };
}

/** A server that must never be reached: counts hits, answers like a provider so a leak would be visible. */
async function trap() {
  let hits = 0;
  const app = new Hono();
  app.all("*", (c) => {
    hits++;
    return c.json({
      id: "trap",
      object: "chat.completion",
      created: 0,
      model: MODEL,
      choices: [{ index: 0, message: { role: "assistant", content: "TRAP" }, finish_reason: "stop" }],
    });
  });
  const served = await listen(app);
  return { ...served, hits: () => hits };
}

const anvilChain = () =>
  defineChain({
    id: 31337,
    name: "anvil",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [stack.anvil.rpcUrl] } },
  });

/** Send a registry call as `account` and wait for it to be mined. */
async function registry(account: Account, functionName: string, args: unknown[], value?: bigint) {
  const wallet = createWalletClient({ chain: anvilChain(), transport: http(stack.anvil.rpcUrl), account });
  const hash = await wallet.writeContract({
    address: stack.deployments.ComputeRegistry,
    abi: computeRegistryAbi,
    functionName,
    args,
    ...(value === undefined ? {} : { value }),
  } as Parameters<typeof wallet.writeContract>[0]);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  expect(receipt.status).toBe("success");
}

async function registerProvider(account: Account, endpoint: string, inPrice: bigint, outPrice: bigint) {
  await registry(account, "register", [endpoint, "", parseEther("0.01")], parseEther("0.1"));
  await registry(account, "setModel", [MODEL, inPrice, outPrice]);
}

/** Wait until the indexer lists exactly `addresses` as active providers of MODEL. */
async function indexed(
  addresses: Address[],
  check: (p: { address: Address; endpoint: string }) => boolean = () => true,
) {
  const want = addresses.map((a) => getAddress(a)).sort();
  await within(10_000, async () => {
    const { providers } = await indexer.listProviders({ model: MODEL, active: true });
    const got = providers.map((p) => p.address).sort();
    return JSON.stringify(got) === JSON.stringify(want) && providers.every(check) ? true : undefined;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = () => A.backend.stats.started + B.backend.stats.started + C.backend.stats.started;
const providerId = (p: { account: Account }) => `provider-${p.account.address}`;

const CHAT = {
  model: MODEL,
  messages: [
    { role: "system" as const, content: "You are terse." },
    { role: "user" as const, content: "Tell me about the compute marketplace." },
  ],
  max_tokens: 24,
};

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error("expected an API error");
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "gateway-e2e-"));
  const nodes = Promise.all(
    [0, 1, 2].map(() => {
      const backend = new MockBackend({ tokenDelayMs: 4 });
      return startTestNode([backend]).then((node) => ({ node, backend }));
    }),
  );
  stack = await startStack();
  const [a, b, c] = await nodes;
  A = { name: "A", account: privateKeyToAccount(anvilAccounts[2].privateKey), ...a!, price: 1n };
  B = { name: "B", account: privateKeyToAccount(anvilAccounts[3].privateKey), ...b!, price: 2n };
  C = { name: "C", account: privateKeyToAccount(anvilAccounts[4].privateKey), ...c!, price: 3n };
  publicClient = createPublicClient({ chain: anvilChain(), transport: http(stack.anvil.rpcUrl) }) as PublicClient;
  indexer = createIndexerClient(stack.indexer.url);
  // Input and output price per token: A 1+1, B 2+2, C 3+3.
  await Promise.all([A, B, C].map((p) => registerProvider(p.account, p.node.url, p.price, p.price)));
  await indexed([A, B, C].map((p) => p.account.address));

  proxy = await indexerProxy(stack.indexer.url);
  const log = pino({ level: "warn" }, { write: (line: string) => void logs.push(JSON.parse(line) as Json) });
  relayer = await createRelayer(
    {
      rpcUrl: stack.anvil.rpcUrl,
      privateKey: anvilAccounts[9].privateKey,
      deployments: {
        chainId: stack.deployments.chainId,
        rental: stack.deployments.ComputeRental,
        usdc: stack.deployments.USDC,
        registry: stack.deployments.ComputeRegistry,
      },
      dbFile: path.join(tmp, "relayer.sqlite"),
      rateLimit: { perSecond: 1000, capacity: 1000 },
      indexerUrl: proxy.url,
      gatewayTimeoutMs: 5_000,
    },
    log,
    // Short caches so the test need not wait out production's 2 s / 3 s.
    { gateway: { providersCacheMs: 100, chainCacheMs: CHAIN_CACHE_MS } },
  );
  relayerServer = await listen(relayer.app);
  client = new OpenAI({ baseURL: `${relayerServer.url}/v1`, apiKey: "not-needed", maxRetries: 0 });
});

afterAll(async () => {
  await relayerServer?.close();
  relayer?.close();
  await proxy?.close();
  await Promise.all([A, B, C].map((p) => p?.node.close()));
  await stack?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("inference gateway", () => {
  it("lists the marketplace's models and answers a chat exactly like the cheapest provider, naming it", async () => {
    const models = await client.models.list();
    expect(models.data).toContainEqual(
      expect.objectContaining({ id: MODEL, object: "model", owned_by: "compute-marketplace" }),
    );

    const { data, response } = await client.chat.completions.create(CHAT).withResponse();
    expect(response.headers.get("x-compute-provider")).toBe(providerId(A));
    const direct = await A.node.client.chat.completions.create(CHAT);
    expect(data.choices).toEqual(direct.choices);
    expect(data.usage).toEqual(direct.usage);
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it("agents at the gateway: the docs' A2A inference task and the MCP chat tool are answered by the cheapest provider", async () => {
    const direct = await A.node.client.chat.completions.create(CHAT);
    const res = await fetch(`${relayerServer.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "task", task: { skill: "inference", parameters: CHAT } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { type: string; task: { status: string; result: { choices: unknown } } };
    expect(body).toMatchObject({ type: "task_result", task: { status: "completed" } });
    expect(body.task.result.choices).toEqual(direct.choices);

    const mcp = new McpClient({ name: "gateway-e2e", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${relayerServer.url}/mcp`)));
    try {
      const r = (await mcp.callTool({
        name: "chat",
        arguments: { model: MODEL, messages: CHAT.messages, max_tokens: CHAT.max_tokens },
      })) as CallToolResult;
      expect(r.isError ?? false).toBe(false);
      expect(r.content).toEqual([{ type: "text", text: direct.choices[0]?.message.content }]);
    } finally {
      await mcp.close();
    }

    // Streaming (A2A 0.3 message/stream): the provider's tokens come through the gateway as they are made.
    const streamed = await fetch(`${relayerServer.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "message/stream",
        params: {
          message: {
            kind: "message",
            messageId: "g-1",
            role: "user",
            parts: [{ kind: "data", data: { skill: "inference", parameters: CHAT } }],
          },
        },
      }),
    });
    expect(streamed.headers.get("content-type")).toBe("text/event-stream");
    type Ev = {
      result: { kind: string; lastChunk?: boolean; artifact?: { parts: Array<{ kind: string; text?: string }> } };
    };
    const events = (await streamed.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => JSON.parse(e.slice(6)) as Ev);
    const pieces = events
      .filter((e) => e.result.kind === "artifact-update" && !e.result.lastChunk)
      .map((e) => e.result.artifact?.parts[0]?.text ?? "");
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(direct.choices[0]?.message.content);

    const bad = await fetch(`${relayerServer.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  it("streams chat chunk by chunk: same text, several chunks spread over time, usage last, a clean end", async () => {
    const whole = await client.chat.completions.create(CHAT);
    const { data: stream, response } = await client.chat.completions
      .create({ ...CHAT, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get("x-compute-provider")).toBe(providerId(A));
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    let text = "";
    const arrivals: number[] = [];
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      arrivals.push(performance.now());
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(chunks.length).toBeGreaterThan(5);
    // The mock makes a token every 4 ms: a buffering proxy would deliver them all at once.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(30);
    expect(chunks.at(-1)?.usage).toEqual(whole.usage);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === "length" || c.choices[0]?.finish_reason === "stop")).toBe(
      true,
    );
  });

  it("passes embeddings and text completions through", async () => {
    const input = ["providers stake ether", "renters pay usdc"];
    const { data, response } = await client.embeddings.create({ model: MODEL, input }).withResponse();
    expect(response.headers.get("x-compute-provider")).toBe(providerId(A));
    const direct = await A.node.client.embeddings.create({ model: MODEL, input });
    expect(data.data).toEqual(direct.data);
    expect(data.data[0]?.embedding.length).toBeGreaterThan(0);

    const completion = await client.completions.create({ model: MODEL, prompt: "The node", max_tokens: 8 });
    const directCompletion = await A.node.client.completions.create({
      model: MODEL,
      prompt: "The node",
      max_tokens: 8,
    });
    expect(completion.choices).toEqual(directCompletion.choices);
  });

  it("never calls a provider the chain does not vouch for, whatever the indexer says; unknown model and provider are 404", async () => {
    // Two providers cheaper than A, both pointing at traps.
    const X = privateKeyToAccount(anvilAccounts[5].privateKey);
    const Y = privateKeyToAccount(anvilAccounts[6].privateKey);
    const [trapX, trapX2, trapY] = await Promise.all([trap(), trap(), trap()]);
    await Promise.all([registerProvider(X, trapX.url, 0n, 0n), registerProvider(Y, trapY.url, 0n, 1n)]);
    await indexed([A, B, C].map((p) => p.account.address).concat([X.address, Y.address]));
    await sleep(150);
    // While they are honest, the cheapest (X) is used: the trap is a working provider.
    const before = await client.chat.completions.create(CHAT).withResponse();
    expect(before.response.headers.get("x-compute-provider")).toBe(`provider-${X.address}`);
    expect(trapX.hits()).toBe(1);

    // The indexer stops seeing the chain; on-chain, X moves its endpoint and Y deactivates.
    proxy.freeze();
    await registry(X, "updateEndpoint", [trapX2.url]);
    await registry(Y, "deactivate", []);
    await sleep(CHAIN_CACHE_MS + 50);
    const n = started();
    const after = await client.chat.completions.create(CHAT).withResponse();
    expect(after.response.headers.get("x-compute-provider")).toBe(providerId(A));
    expect(after.data.choices[0]?.message.content).not.toBe("TRAP");
    expect([trapX.hits(), trapX2.hits(), trapY.hits()]).toEqual([1, 0, 0]);
    expect(started()).toBe(n + 1);
    expect(
      logs.some(
        (l) => l.event === "gateway_failover" && l.provider === `provider-${X.address}` && /endpoint/.test(l.reason),
      ),
    ).toBe(true);

    // Pinning to them is refused too.
    for (const who of [X.address, `provider-${Y.address}`]) {
      const e = await apiError(client.chat.completions.create(CHAT, { headers: { "X-Compute-Provider": who } }));
      expect(e.status).toBe(404);
      expect(e.code).toBe("provider_not_found");
    }

    proxy.thaw();
    // With the indexer in sync again: an unknown model, and a provider that never registered.
    const unknown = await apiError(client.chat.completions.create({ ...CHAT, model: "no-such-model" }));
    expect(unknown.status).toBe(404);
    expect(unknown.code).toBe("model_not_found");
    expect(unknown.error).toMatchObject({ type: "invalid_request_error", param: "model", code: "model_not_found" });
    const stranger = "provider-0x000000000000000000000000000000000000dEaD";
    const notRegistered = await apiError(
      client.chat.completions.create(CHAT, { headers: { "X-Compute-Provider": stranger } }),
    );
    expect(notRegistered.status).toBe(404);
    expect(notRegistered.code).toBe("provider_not_found");
    expect(notRegistered.message).toContain("0x000000000000000000000000000000000000dEaD");
    expect(started()).toBe(n + 1);
    expect([trapX.hits(), trapX2.hits(), trapY.hits()]).toEqual([1, 0, 0]);

    // Clean up: X leaves, the traps close.
    await registry(X, "deactivate", []);
    await indexed([A, B, C].map((p) => p.account.address));
    await Promise.all([trapX.close(), trapX2.close(), trapY.close()]);
    await sleep(150);
  });

  it("sends a paid request to exactly the provider it pays (x402 v2 official client, v1 by hand)", async () => {
    // Two paid providers of PAID_MODEL (the x402 harness's node: the node's routes behind x402Payments, the
    // relayer as facilitator), each paid at its own address; P1 is cheaper in the registry.
    const P1 = privateKeyToAccount(anvilAccounts[7].privateKey);
    const P2 = privateKeyToAccount(anvilAccounts[8].privateKey);
    const chainLike = { deployments: stack.deployments, tmp } as unknown as Chain;
    const apps = [P1, P2].map((p) => nodeApp(chainLike, relayerServer.url, p.address));
    const served = await Promise.all(apps.map((n) => listen(n.app)));
    try {
      await Promise.all([
        registry(P1, "register", [served[0]!.url, "", parseEther("0.01")], parseEther("0.1")).then(() =>
          registry(P1, "setModel", [PAID_MODEL, 2n, 5n]),
        ),
        registry(P2, "register", [served[1]!.url, "", parseEther("0.01")], parseEther("0.1")).then(() =>
          registry(P2, "setModel", [PAID_MODEL, 3n, 5n]),
        ),
      ]);
      await within(10_000, async () => {
        const { providers } = await indexer.listProviders({ model: PAID_MODEL, active: true });
        return providers.length === 2 ? true : undefined;
      });
      await sleep(150);
      const payer = privateKeyToAccount(generatePrivateKey());
      const deployer = createWalletClient({
        chain: anvilChain(),
        transport: http(stack.anvil.rpcUrl),
        account: privateKeyToAccount(anvilAccounts[0].privateKey),
      });
      await publicClient.waitForTransactionReceipt({
        hash: await deployer.writeContract({
          address: stack.deployments.USDC,
          abi: localUsdcAbi,
          functionName: "mint",
          args: [payer.address, 1_000_000n],
        }),
        pollingInterval: 50,
      });
      const usdc = (who: Address) =>
        publicClient.readContract({
          address: stack.deployments.USDC,
          abi: localUsdcAbi,
          functionName: "balanceOf",
          args: [who],
        });
      const url = `${relayerServer.url}/v1/chat/completions`;
      const body = JSON.stringify({
        model: PAID_MODEL,
        messages: [{ role: "user", content: "pay me" }],
        max_tokens: 8,
      });
      const post = (headers: Record<string, string> = {}) =>
        fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

      // Unpaid: the cheapest provider's 402 comes through, with its payTo and the v2 header.
      const unpaid = await post();
      expect(unpaid.status).toBe(402);
      expect(unpaid.headers.get("x-compute-provider")).toBe(`provider-${P1.address}`);
      expect(unpaid.headers.get("payment-required")).toBeTruthy();
      const { accepts } = (await unpaid.json()) as {
        accepts: Parameters<typeof createV1PaymentHeader>[0]["requirement"][];
      };
      expect(accepts[0]?.payTo).toBe(P1.address);

      // The official x402 client (v2 PAYMENT-SIGNATURE) pays P1 and is served by P1.
      const x402 = x402Client.fromConfig({
        schemes: [{ network: caip2(31337), client: new ExactEvmScheme(payer) }],
        spendControls: { allowedAssets: [{ network: caip2(31337), asset: stack.deployments.USDC }] },
      });
      const p1Before = await usdc(P1.address);
      const res = await wrapFetchWithPayment(fetch, x402)(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-compute-provider")).toBe(`provider-${P1.address}`);
      expect((decodeBase64Json(res.headers.get("payment-response") as string) as SettleResponse).success).toBe(true);
      expect(await usdc(P1.address)).toBe(p1Before + BigInt(accepts[0]!.maxAmountRequired));

      // A v1 X-PAYMENT to P2 goes to P2, although P1 is cheaper.
      const p2Before = await usdc(P2.address);
      const header = await createV1PaymentHeader({
        signer: payer,
        chainId: 31337,
        requirement: { ...accepts[0]!, payTo: P2.address },
      });
      const toP2 = await post({ "X-PAYMENT": header });
      expect(toP2.status).toBe(200);
      expect(toP2.headers.get("x-compute-provider")).toBe(`provider-${P2.address}`);
      expect(toP2.headers.get("x-payment-response")).toBeTruthy();
      expect(await usdc(P2.address)).toBe(p2Before + BigInt(accepts[0]!.maxAmountRequired));
    } finally {
      for (const n of apps) n.payments.close();
      await Promise.all(served.map((s) => s.close()));
    }
  });

  it("pins X-Compute-Provider to the named provider", async () => {
    const { data, response } = await client.chat.completions
      .create(CHAT, { headers: { "X-Compute-Provider": providerId(C).toLowerCase() } })
      .withResponse();
    expect(response.headers.get("x-compute-provider")).toBe(providerId(C));
    expect(data.choices).toEqual((await A.node.client.chat.completions.create(CHAT)).choices);
  });

  it("stops the provider's generation when the client leaves mid-stream", async () => {
    // A prompt whose mock answer is long (the mock answers 12–35 tokens, 4 ms apart), so there is time to leave.
    let chat: typeof CHAT | undefined;
    for (let i = 0; i < 40 && chat === undefined; i++) {
      const candidate = {
        ...CHAT,
        max_tokens: 64,
        messages: [{ role: "user" as const, content: `Tell me story number ${i}.` }],
      };
      const r = await A.node.client.chat.completions.create(candidate);
      if ((r.usage?.completion_tokens ?? 0) >= 30) chat = candidate;
    }
    if (chat === undefined) throw new Error("no long mock answer among 40 prompts");
    const before = { ...A.backend.stats };
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ ...chat, stream: true }, { signal: ac.signal });
    let received = "";
    try {
      for await (const chunk of stream) {
        received += chunk.choices[0]?.delta.content ?? "";
        if (received !== "") ac.abort();
      }
    } catch (err) {
      expect((err as Error).name).toMatch(/Abort/);
    }
    expect(received).toMatch(/^This/);
    // The gateway cancels its upstream request; the node sees its client go and stops the model.
    await within(5_000, async () => (A.backend.stats.aborted > before.aborted ? true : undefined));
    expect(A.backend.stats.started).toBe(before.started + 1);
    expect(A.backend.stats.completed).toBe(before.completed);
  });

  it("fails over to the next provider when the cheapest one goes down", async () => {
    await A.node.close();
    const { data, response } = await client.chat.completions.create(CHAT).withResponse();
    expect(response.headers.get("x-compute-provider")).toBe(providerId(B));
    expect(data.choices).toEqual((await B.node.client.chat.completions.create(CHAT)).choices);
    const failover = logs.find((l) => l.event === "gateway_failover" && l.provider === providerId(A));
    expect(failover).toMatchObject({ model: MODEL, path: "/v1/chat/completions", next: providerId(B) });
    expect(failover?.reason).toMatch(/connection failed/);

    // Streams fail over too (nothing was sent yet).
    const stream = await client.chat.completions.create({ ...CHAT, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(data.choices[0]?.message.content);
  });

  it("answers 503 no_provider_available when every provider is down", async () => {
    await Promise.all([B.node.close(), C.node.close()]);
    const e = await apiError(client.chat.completions.create(CHAT));
    expect(e.status).toBe(503);
    expect(e.error).toMatchObject({ type: "service_unavailable_error", code: "no_provider_available", param: null });
    expect(e.message).toContain("3 of 3 tried");
  });
});
