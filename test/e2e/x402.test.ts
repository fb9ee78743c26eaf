/**
 * Paid inference end to end: real anvil, real contracts, real LocalUSDC, the relayer as facilitator, the node's
 * inference routes behind x402Payments. Money is checked to the unit on-chain.
 */
import {
  caip2,
  createV1PaymentHeader,
  decodeBase64Json,
  encodeBase64Json,
  encodeV1PaymentHeader,
  signAuthorization,
} from "@jeju/compute-sdk/x402/index";
import type { PaymentRequired, SettleResponse } from "@x402/core/types";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Chain,
  countWords,
  fundedPayer,
  nodeApp,
  PAID_MODEL,
  PAID_PRICE,
  type RunningRelayer,
  startChain,
  startRelayer,
} from "./x402-harness.ts";

const PROVIDER = privateKeyToAccount(generatePrivateKey()).address;
const URL_CHAT = "http://node.test/v1/chat/completions";

let chain: Chain;
let relayer: RunningRelayer;
let node: ReturnType<typeof nodeApp>;

beforeAll(async () => {
  chain = await startChain();
  relayer = await startRelayer(chain);
  node = nodeApp(chain, relayer.url, PROVIDER);
});

afterAll(async () => {
  node?.payments.close();
  await relayer?.close();
  await chain?.stop();
});

const chatBody = (content: string, maxTokens = 8, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: PAID_MODEL, messages: [{ role: "user", content }], max_tokens: maxTokens, ...extra });

/** What the node charges for one user message (3 + 4 overhead tokens, then words). */
const chatPrice = (content: string, maxTokens: number) =>
  BigInt(3 + 4 + countWords(content)) * PAID_PRICE.inputPerToken + BigInt(maxTokens) * PAID_PRICE.outputPerToken;

async function ask402(body: string) {
  const res = await node.fetch(URL_CHAT, { method: "POST", headers: { "content-type": "application/json" }, body });
  expect(res.status).toBe(402);
  const v1 = (await res.json()) as { x402Version: 1; error: string; accepts: Record<string, unknown>[] };
  const header = res.headers.get("PAYMENT-REQUIRED");
  expect(header).toBeTruthy();
  const v2 = decodeBase64Json(header as string) as PaymentRequired;
  return { v1, v2 };
}

function post(body: string, headers: Record<string, string>) {
  return node.fetch(URL_CHAT, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

describe("x402 paid inference", () => {
  it("serves free models without payment", async () => {
    const res = await node.fetch(URL_CHAT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("PAYMENT-RESPONSE")).toBeNull();
  });

  it("answers 402 with the v1 body and the v2 PAYMENT-REQUIRED header", async () => {
    const content = "Explain quantum computing in simple terms";
    const started = node.backend.stats.started;
    const { v1, v2 } = await ask402(chatBody(content, 16));
    const amount = chatPrice(content, 16).toString();
    expect(v1.x402Version).toBe(1);
    expect(v1.error).toMatch(/header is required/);
    expect(v1.accepts).toEqual([
      {
        scheme: "exact",
        network: "eip155:31337",
        maxAmountRequired: amount,
        resource: URL_CHAT,
        description: expect.stringContaining(PAID_MODEL),
        mimeType: "application/json",
        outputSchema: {},
        payTo: PROVIDER,
        maxTimeoutSeconds: 300,
        asset: chain.deployments.USDC,
        extra: { name: "USD Coin", version: "2" },
      },
    ]);
    expect(v2.x402Version).toBe(2);
    expect(v2.resource.url).toBe(URL_CHAT);
    expect(v2.accepts[0]).toMatchObject({ scheme: "exact", network: "eip155:31337", amount, payTo: PROVIDER });
    expect(node.backend.stats.started).toBe(started);
  });

  it("official @x402/fetch (v2) client: 402 → paid retry → 200; provider gets exactly the charged amount", async () => {
    const payer = await fundedPayer(chain, 1_000_000n);
    const client = x402Client.fromConfig({
      schemes: [{ network: caip2(31337), client: new ExactEvmScheme(payer) }],
      spendControls: { allowedAssets: [{ network: caip2(31337), asset: chain.deployments.USDC }] },
    });
    const payFetch = wrapFetchWithPayment(node.fetch as typeof fetch, client);
    const content = "Hello from the official client";
    const before = await chain.usdcBalance(PROVIDER);
    const res = await payFetch(URL_CHAT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody(content, 10),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(json.choices[0]?.message.content).toMatch(/mock response/);
    const settle = decodeBase64Json(res.headers.get("PAYMENT-RESPONSE") as string) as SettleResponse;
    expect(settle.success).toBe(true);
    expect(settle.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(res.headers.get("X-PAYMENT-RESPONSE")).toBe(res.headers.get("PAYMENT-RESPONSE"));
    const charged = chatPrice(content, 10);
    expect((await chain.usdcBalance(PROVIDER)) - before).toBe(charged);
    expect(await chain.usdcBalance(payer.address)).toBe(1_000_000n - charged);
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: settle.transaction as `0x${string}` });
    expect(receipt.status).toBe("success");
  });

  it("hand-built v1 X-Payment (as the docs show): 402 → paid retry → 200 with X-PAYMENT-RESPONSE", async () => {
    const payer = await fundedPayer(chain, 1_000_000n);
    const content = "Hello from a v1 client";
    const body = chatBody(content, 12);
    const { v1 } = await ask402(body);
    const requirement = v1.accepts[0] as Parameters<typeof createV1PaymentHeader>[0]["requirement"];
    const header = await createV1PaymentHeader({ signer: payer, chainId: 31337, requirement });
    const before = await chain.usdcBalance(PROVIDER);
    const res = await post(body, { "X-Payment": header });
    expect(res.status).toBe(200);
    const settle = decodeBase64Json(res.headers.get("X-PAYMENT-RESPONSE") as string) as SettleResponse;
    expect(settle).toMatchObject({ success: true, payer: payer.address });
    expect((await chain.usdcBalance(PROVIDER)) - before).toBe(chatPrice(content, 12));
  });

  it("streams a paid answer (settled before the first byte; PAYMENT-RESPONSE in the headers)", async () => {
    const payer = await fundedPayer(chain, 1_000_000n);
    const content = "Write a story";
    const body = chatBody(content, 6, { stream: true });
    const { v1 } = await ask402(body);
    expect(v1.accepts[0]?.mimeType).toBe("text/event-stream");
    const header = await createV1PaymentHeader({
      signer: payer,
      chainId: 31337,
      requirement: v1.accepts[0] as Parameters<typeof createV1PaymentHeader>[0]["requirement"],
    });
    const before = await chain.usdcBalance(PROVIDER);
    const res = await post(body, { "X-Payment": header });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const settle = decodeBase64Json(res.headers.get("PAYMENT-RESPONSE") as string) as SettleResponse;
    expect(settle.success).toBe(true);
    const text = await res.text();
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    expect((await chain.usdcBalance(PROVIDER)) - before).toBe(chatPrice(content, 6));
  });

  it("prices embeddings by input tokens", async () => {
    const payer = await fundedPayer(chain, 1_000_000n);
    const body = JSON.stringify({ model: PAID_MODEL, input: "What is the meaning of life?" });
    const res402 = await node.fetch("http://node.test/v1/embeddings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res402.status).toBe(402);
    const v1 = (await res402.json()) as { accepts: Parameters<typeof createV1PaymentHeader>[0]["requirement"][] };
    expect(v1.accepts[0]?.maxAmountRequired).toBe((6n * PAID_PRICE.inputPerToken).toString());
    const header = await createV1PaymentHeader({ signer: payer, chainId: 31337, requirement: v1.accepts[0] as never });
    const res = await node.fetch("http://node.test/v1/embeddings", {
      method: "POST",
      headers: { "content-type": "application/json", "X-Payment": header },
      body,
    });
    expect(res.status).toBe(200);
  });

  it("prices a completion by the max_tokens it generates with, whatever max_completion_tokens says", async () => {
    const amountOf = async (extra: Record<string, unknown>) => {
      const res = await node.fetch("http://node.test/v1/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: PAID_MODEL, prompt: "one two three", ...extra }),
      });
      expect(res.status).toBe(402);
      const v1 = (await res.json()) as { accepts: { maxAmountRequired: string }[] };
      return BigInt(v1.accepts[0]?.maxAmountRequired ?? "0");
    };
    const honest = await amountOf({ max_tokens: 500 });
    expect(await amountOf({ max_tokens: 500, max_completion_tokens: 0 })).toBe(honest);
    expect(honest - (await amountOf({ max_tokens: 1 }))).toBe(499n * PAID_PRICE.outputPerToken);
  });

  it("prices the tools the backend sees (every word of a tool description is a prompt token)", async () => {
    const description = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(" ");
    const tools = [{ type: "function", function: { name: "lookup", description, parameters: { type: "object" } } }];
    const plain = BigInt(String((await ask402(chatBody("hi", 8))).v1.accepts[0]?.maxAmountRequired));
    const withTools = BigInt(String((await ask402(chatBody("hi", 8, { tools }))).v1.accepts[0]?.maxAmountRequired));
    expect(withTools - plain >= 1000n * PAID_PRICE.inputPerToken).toBe(true);
  });

  it("caps max_tokens when the request sets none (the price covers defaultMaxTokens)", async () => {
    const body = JSON.stringify({ model: PAID_MODEL, messages: [{ role: "user", content: "one two" }] });
    const { v1 } = await ask402(body);
    expect(v1.accepts[0]?.maxAmountRequired).toBe(chatPrice("one two", 1024).toString());
  });
});

describe("x402 refusals: 402, clear error, no model work, nothing spent", () => {
  type Case = {
    name: string;
    error: RegExp;
    build: (ctx: {
      payer: ReturnType<typeof privateKeyToAccount>;
      amount: bigint;
      usdc: `0x${string}`;
    }) => Promise<Record<string, string>>;
    balance?: bigint;
  };
  const now = () => BigInt(Math.floor(Date.now() / 1000));
  const token = (usdc: `0x${string}`, chainId = 31337) => ({
    name: "USD Coin",
    version: "2",
    chainId,
    verifyingContract: usdc,
  });
  const v1 = async (payload: Awaited<ReturnType<typeof signAuthorization>>, network = "eip155:31337") => ({
    "X-Payment": encodeV1PaymentHeader({ network, payload }),
  });
  const cases: Case[] = [
    {
      name: "underpaid",
      error: /underpaid/,
      build: async ({ payer, amount, usdc }) =>
        v1(await signAuthorization({ signer: payer, token: token(usdc), to: PROVIDER, value: amount - 1n })),
    },
    {
      name: "expired",
      error: /expired/,
      build: async ({ payer, amount, usdc }) =>
        v1(
          await signAuthorization({
            signer: payer,
            token: token(usdc),
            to: PROVIDER,
            value: amount,
            validBefore: now() - 10n,
          }),
        ),
    },
    {
      name: "not yet valid",
      error: /not yet valid/,
      build: async ({ payer, amount, usdc }) =>
        v1(
          await signAuthorization({
            signer: payer,
            token: token(usdc),
            to: PROVIDER,
            value: amount,
            validAfter: now() + 3600n,
          }),
        ),
    },
    {
      name: "wrong payTo",
      error: /wrong payTo/,
      build: async ({ payer, amount, usdc }) =>
        v1(await signAuthorization({ signer: payer, token: token(usdc), to: payer.address, value: amount })),
    },
    {
      name: "wrong asset (v2 accepted.asset)",
      error: /wrong asset/,
      build: async ({ payer, amount }) => {
        const other = "0x1111111111111111111111111111111111111111" as const;
        const payload = await signAuthorization({ signer: payer, token: token(other), to: PROVIDER, value: amount });
        return {
          "PAYMENT-SIGNATURE": encodeBase64Json({
            x402Version: 2,
            accepted: {
              scheme: "exact",
              network: "eip155:31337",
              asset: other,
              amount: amount.toString(),
              payTo: PROVIDER,
              maxTimeoutSeconds: 300,
              extra: { name: "USD Coin", version: "2" },
            },
            payload,
          }),
        };
      },
    },
    {
      name: "wrong asset (v1: signed for another token's domain)",
      error: /invalid_exact_evm_signature/,
      build: async ({ payer, amount }) =>
        v1(
          await signAuthorization({
            signer: payer,
            token: token("0x2222222222222222222222222222222222222222"),
            to: PROVIDER,
            value: amount,
          }),
        ),
    },
    {
      name: "wrong chain",
      error: /wrong chain/,
      build: async ({ payer, amount, usdc }) =>
        v1(await signAuthorization({ signer: payer, token: token(usdc, 8453), to: PROVIDER, value: amount }), "base"),
    },
    {
      name: "bad signature",
      error: /invalid_exact_evm_signature/,
      build: async ({ payer, amount, usdc }) => {
        const forger = privateKeyToAccount(generatePrivateKey());
        const p = await signAuthorization({ signer: forger, token: token(usdc), to: PROVIDER, value: amount });
        return v1({ ...p, authorization: { ...p.authorization, from: payer.address } });
      },
    },
    {
      name: "insufficient balance",
      error: /insufficient_balance/,
      balance: 1n,
      build: async ({ payer, amount, usdc }) =>
        v1(await signAuthorization({ signer: payer, token: token(usdc), to: PROVIDER, value: amount })),
    },
    {
      name: "garbage header",
      error: /base64|malformed/,
      build: async () => ({ "X-Payment": "not base64 at all!" }),
    },
  ];

  for (const tc of cases) {
    it(`refuses: ${tc.name}`, async () => {
      const payer = await fundedPayer(chain, tc.balance ?? 1_000_000n);
      const content = `refusal ${tc.name}`;
      const body = chatBody(content, 4);
      const amount = chatPrice(content, 4);
      const headers = await tc.build({ payer, amount, usdc: chain.deployments.USDC });
      const provider0 = await chain.usdcBalance(PROVIDER);
      const payer0 = await chain.usdcBalance(payer.address);
      const started = node.backend.stats.started;
      const res = await post(body, headers);
      expect(res.status).toBe(402);
      const json = (await res.json()) as { error: string; accepts: unknown[] };
      expect(json.error).toMatch(tc.error);
      expect(json.accepts).toHaveLength(1);
      expect(node.backend.stats.started).toBe(started);
      expect(await chain.usdcBalance(PROVIDER)).toBe(provider0);
      expect(await chain.usdcBalance(payer.address)).toBe(payer0);
    });
  }
});

describe("x402 replay", () => {
  it("one authorization buys exactly one answer (sequential replay)", async () => {
    const payer = await fundedPayer(chain, 1_000_000n);
    const content = "replay me";
    const body = chatBody(content, 5);
    const { v1 } = await ask402(body);
    const header = await createV1PaymentHeader({ signer: payer, chainId: 31337, requirement: v1.accepts[0] as never });
    expect((await post(body, { "X-Payment": header })).status).toBe(200);
    const started = node.backend.stats.started;
    const again = await post(body, { "X-Payment": header });
    expect(again.status).toBe(402);
    expect(((await again.json()) as { error: string }).error).toMatch(/already used/);
    expect(node.backend.stats.started).toBe(started);
    expect(await chain.usdcBalance(payer.address)).toBe(1_000_000n - chatPrice(content, 5));
  });

  it("20 concurrent retries of the same header buy one answer and move the money once", async () => {
    const payer = await fundedPayer(chain, 1_000_000n);
    const content = "concurrent replay";
    const body = chatBody(content, 5);
    const { v1 } = await ask402(body);
    const header = await createV1PaymentHeader({ signer: payer, chainId: 31337, requirement: v1.accepts[0] as never });
    const provider0 = await chain.usdcBalance(PROVIDER);
    const started = node.backend.stats.started;
    const results = await Promise.all(Array.from({ length: 20 }, () => post(body, { "X-Payment": header })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 402)).toHaveLength(19);
    expect(node.backend.stats.started - started).toBe(1);
    expect((await chain.usdcBalance(PROVIDER)) - provider0).toBe(chatPrice(content, 5));
  });
});

describe("settlement failure after the answer", () => {
  it("withholds the answer (503 settlement_pending), records the settlement as pending and reconciles it on retry", async () => {
    let failSettle = true;
    const real = (await import("../../node/src/payments/facilitator.ts")).HttpFacilitatorClient;
    const inner = new real(relayer.url);
    const flaky = nodeApp(chain, relayer.url, PROVIDER, {
      facilitator: {
        verify: (p, r) => inner.verify(p, r),
        settle: (p, r) => {
          if (failSettle) return Promise.reject(new Error("relayer down"));
          return inner.settle(p, r);
        },
      },
    });
    const payer = await fundedPayer(chain, 1_000_000n);
    const content = "settle later";
    const body = chatBody(content, 5);
    const r402 = await flaky.fetch(URL_CHAT, { method: "POST", headers: { "content-type": "application/json" }, body });
    const v1 = (await r402.json()) as { accepts: never[] };
    const header = await createV1PaymentHeader({ signer: payer, chainId: 31337, requirement: v1.accepts[0] as never });
    const provider0 = await chain.usdcBalance(PROVIDER);
    const res = await flaky.fetch(URL_CHAT, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Payment": header },
      body,
    });
    // Released only when settled: the answer is withheld, the settlement is reconciled in the background.
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("settlement_pending");
    expect(res.headers.get("PAYMENT-RESPONSE")).toBeNull();
    expect(flaky.store.pending()).toHaveLength(1);
    expect(await chain.usdcBalance(PROVIDER)).toBe(provider0);
    // The same header is still spent for this node.
    expect(
      (
        await flaky.fetch(URL_CHAT, {
          method: "POST",
          headers: { "content-type": "application/json", "X-Payment": header },
          body,
        })
      ).status,
    ).toBe(402);
    failSettle = false;
    expect(await flaky.payments.retryPendingSettlements()).toBe(1);
    expect(flaky.store.pending()).toHaveLength(0);
    expect((await chain.usdcBalance(PROVIDER)) - provider0).toBe(chatPrice(content, 5));
    flaky.payments.close();
  });
});
