/**
 * Gateway routing without a chain: a scripted indexer and registry, and provider apps behind an injected
 * fetch that honours the abort signal. Ordering, on-chain refusals, failover rules, pinning, request errors.
 * (The real thing, with anvil, the indexer and provider nodes, is test/e2e/gateway.test.ts.)
 */
import type { Provider, ProviderFilters } from "@jeju/compute-sdk/indexer/index";
import { encodeBase64Json, signAuthorization } from "@jeju/compute-sdk/x402/index";
import { Hono } from "hono";
import { type Address, getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.ts";
import { type OnChainProvider, ProviderDirectory } from "./directory.ts";
import { Gateway } from "./gateway.ts";
import { gatewayRoutes } from "./routes.ts";

const addr = (n: number) => getAddress(`0x${n.toString(16).padStart(40, "0")}`);
const A = addr(0xa);
const B = addr(0xb);
const C = addr(0xc);

type Listing = { address: Address; endpoint: string; price: bigint; models?: string[]; active?: boolean };

function provider(l: Listing): Provider {
  return {
    id: l.address.toLowerCase(),
    address: l.address,
    endpoint: l.endpoint,
    active: l.active ?? true,
    registeredAt: 1_700_000_000n,
    models: (l.models ?? ["m"]).map((name) => ({ name, inputPricePerToken: l.price, outputPricePerToken: l.price })),
  } as unknown as Provider;
}

let listings: Listing[];
let chain: Map<Address, OnChainProvider>;
let indexerDown: boolean;
let indexerCalls: ProviderFilters[];
let hits: string[];
/** Upstream apps by origin. */
let upstreams: Map<string, Hono>;

const fakeFetch: typeof fetch = async (input, init) => {
  const req = new Request(input as string, init);
  const app = upstreams.get(new URL(req.url).origin);
  if (app === undefined) throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
  hits.push(`${new URL(req.url).origin}${new URL(req.url).pathname}`);
  const signal = init?.signal;
  return new Promise<Response>((resolve, reject) => {
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    Promise.resolve(app.fetch(req)).then(resolve, reject);
  });
};

function node(origin: string, name: string, handler?: (c: import("hono").Context) => Response | Promise<Response>) {
  const app = new Hono();
  app.post("/v1/*", async (c) => {
    if (handler) return handler(c);
    const body = (await c.req.json()) as { model: string };
    return c.json({
      from: name,
      model: body.model,
      auth: c.req.header("authorization") ?? null,
      hop: c.req.header("x-compute-gateway") ?? null,
    });
  });
  upstreams.set(origin, app);
}

function setup(options: { timeoutMs?: number; maxBodyBytes?: number } = {}) {
  const directory = new ProviderDirectory({
    indexer: {
      async listProviders(f = {}) {
        indexerCalls.push(f);
        if (indexerDown) throw new Error("indexer down");
        const providers = listings
          .filter((l) => f.model === undefined || (l.models ?? ["m"]).includes(f.model))
          .filter((l) => f.active !== true || (l.active ?? true))
          .map(provider);
        return { providers, limit: f.limit ?? 100, offset: f.offset ?? 0 };
      },
    },
    readProvider: async (a) => chain.get(a) ?? { registered: false, active: false, endpoint: "" },
    log: silentLogger,
    providersCacheMs: 0,
    chainCacheMs: 0,
  });
  const gateway = new Gateway({ directory, log: silentLogger, fetch: fakeFetch, ...options });
  const app = gatewayRoutes(gateway, silentLogger);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, gateway, directory, post };
}

function list(...ls: Listing[]) {
  listings = ls;
  for (const l of ls) chain.set(l.address, { registered: true, active: l.active ?? true, endpoint: l.endpoint });
}

beforeEach(() => {
  listings = [];
  chain = new Map();
  indexerDown = false;
  indexerCalls = [];
  hits = [];
  upstreams = new Map();
  node("http://a.test", "a");
  node("http://b.test", "b");
  node("http://c.test", "c");
});

type Json = Record<string, any>;

describe("gateway routing", () => {
  it("routes to the cheapest provider, forwards what matters, names the provider", async () => {
    list(
      { address: B, endpoint: "http://b.test", price: 2n },
      { address: A, endpoint: "http://a.test/", price: 1n },
      { address: C, endpoint: "http://c.test", price: 3n },
    );
    const { post } = setup();
    const res = await post(
      "/v1/chat/completions",
      { model: "m", messages: [] },
      { authorization: "Bearer k", cookie: "secret" },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("x-compute-provider")).toBe(`provider-${A}`);
    // The client's credentials stay at the gateway: providers are untrusted.
    expect(await res.json()).toEqual({ from: "a", model: "m", auth: null, hop: "1" });
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(hits).toEqual(["http://a.test/v1/chat/completions"]);
    expect(indexerCalls[0]).toMatchObject({ model: "m", active: true });
  });

  it("orders equal prices by latency EWMA, and puts recently failed providers last", async () => {
    list(
      { address: A, endpoint: "http://a.test", price: 1n },
      { address: B, endpoint: "http://b.test", price: 1n },
      { address: C, endpoint: "http://c.test", price: 0n },
    );
    const { directory } = setup();
    directory.recordSuccess(A, 50);
    directory.recordSuccess(B, 10);
    expect((await directory.candidates("m")).map((c) => c.address)).toEqual([C, B, A]);
    directory.recordFailure(C);
    expect((await directory.candidates("m")).map((c) => c.address)).toEqual([B, A, C]);
    directory.recordSuccess(C, 5);
    expect((await directory.candidates("m")).map((c) => c.address)).toEqual([C, B, A]);
  });

  it("fails over on a connection error, a 5xx and a timeout before headers, never after 4xx", async () => {
    list(
      { address: A, endpoint: "http://down.test", price: 1n },
      { address: B, endpoint: "http://b.test", price: 2n },
      { address: C, endpoint: "http://c.test", price: 3n },
    );
    node("http://b.test", "b", (c) => c.json({ error: { message: "boom" } }, 503));
    const { post, directory } = setup();
    const res = await post("/v1/completions", { model: "m", prompt: "x" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-compute-provider")).toBe(`provider-${C}`);
    expect(hits).toEqual(["http://b.test/v1/completions", "http://c.test/v1/completions"]);
    expect(directory.healthOf(A)?.failedAt).toBeDefined();

    // A slow provider: no headers within the timeout → next.
    hits = [];
    node("http://b.test", "b", () => new Promise(() => {}));
    list({ address: B, endpoint: "http://b.test", price: 1n }, { address: C, endpoint: "http://c.test", price: 3n });
    const slow = setup({ timeoutMs: 100 });
    const t0 = performance.now();
    const r2 = await slow.post("/v1/embeddings", { model: "m", input: "x" });
    expect(r2.headers.get("x-compute-provider")).toBe(`provider-${C}`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);

    // A 402 with its headers passes through unchanged: no failover.
    hits = [];
    node("http://b.test", "b", (c) =>
      c.json({ x402Version: 1, accepts: [] }, 402, { "PAYMENT-REQUIRED": "abc", "set-cookie": "x=1" }),
    );
    const paid = setup();
    const r3 = await paid.post("/v1/chat/completions", { model: "m" });
    expect(r3.status).toBe(402);
    expect(r3.headers.get("payment-required")).toBe("abc");
    expect(r3.headers.get("set-cookie")).toBeNull();
    expect(r3.headers.get("x-compute-provider")).toBe(`provider-${B}`);
    expect(await r3.json()).toEqual({ x402Version: 1, accepts: [] });
    expect(hits).toEqual(["http://b.test/v1/chat/completions"]);
  });

  it("never serves a provider's HTML (or any type but JSON and SSE) on the gateway's origin", async () => {
    list({ address: A, endpoint: "http://a.test", price: 1n }, { address: B, endpoint: "http://b.test", price: 2n });
    node("http://a.test", "a", (c) => c.html("<script>steal(localStorage)</script>"));
    const { post } = setup();
    const res = await post("/v1/chat/completions", { model: "m" });
    expect(res.headers.get("x-compute-provider")).toBe(`provider-${B}`);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(((await res.json()) as Json).from).toBe("b");

    list({ address: A, endpoint: "http://a.test", price: 1n });
    const only = await post("/v1/chat/completions", { model: "m" });
    expect(only.status).toBe(503);
    expect(only.headers.get("content-type")).toMatch(/^application\/json/);
    const text = await only.text();
    expect(text).not.toContain("<script>");
    expect(text).toContain("answered a content type other than JSON or SSE");
  });

  it("does not follow a provider's redirect", async () => {
    list({ address: A, endpoint: "http://a.test", price: 1n }, { address: B, endpoint: "http://b.test", price: 2n });
    node("http://a.test", "a", (c) => c.redirect("http://evil.test/v1/chat/completions", 307));
    const { post } = setup();
    const res = await post("/v1/chat/completions", { model: "m" });
    expect(res.headers.get("x-compute-provider")).toBe(`provider-${B}`);
    expect(hits).toEqual(["http://a.test/v1/chat/completions", "http://b.test/v1/chat/completions"]);
  });

  it("calls only providers the registry confirms: registered, active, same endpoint, http(s)", async () => {
    list(
      { address: A, endpoint: "http://a.test", price: 1n },
      { address: B, endpoint: "http://b.test", price: 2n },
      { address: C, endpoint: "http://c.test", price: 3n },
    );
    chain.set(A, { registered: true, active: true, endpoint: "http://elsewhere.test" });
    chain.set(B, { registered: true, active: false, endpoint: "http://b.test" });
    const { post } = setup();
    const res = await post("/v1/chat/completions", { model: "m" });
    expect(res.headers.get("x-compute-provider")).toBe(`provider-${C}`);
    expect(hits).toEqual(["http://c.test/v1/chat/completions"]);

    chain.delete(C);
    hits = [];
    const none = await post("/v1/chat/completions", { model: "m" });
    expect(none.status).toBe(503);
    const e = ((await none.json()) as Json).error;
    expect(e).toMatchObject({ code: "no_provider_available", type: "service_unavailable_error", param: null });
    expect(e.message).toContain("3 of 3 tried");
    expect(hits).toEqual([]);

    list(
      { address: A, endpoint: "ftp://a.test", price: 1n },
      { address: B, endpoint: "http://user:pw@b.test", price: 1n },
      { address: C, endpoint: "not a url", price: 1n },
    );
    const notFound = await post("/v1/chat/completions", { model: "m" });
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as Json).error.code).toBe("model_not_found");
  });

  it("pins to X-Compute-Provider and to the payee of a payment, without failover", async () => {
    list({ address: A, endpoint: "http://a.test", price: 1n }, { address: B, endpoint: "http://b.test", price: 2n });
    const { post } = setup();
    const named = await post(
      "/v1/chat/completions",
      { model: "m" },
      { "X-Compute-Provider": `provider-${B.toLowerCase()}` },
    );
    expect(named.headers.get("x-compute-provider")).toBe(`provider-${B}`);

    const payer = privateKeyToAccount(generatePrivateKey());
    const token = { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: addr(0x5) } as const;
    const payload = await signAuthorization({ signer: payer, token, to: B, value: 10n });
    const xPayment = encodeBase64Json({ x402Version: 1, scheme: "exact", network: "eip155:31337", payload });
    hits = [];
    const paid = await post("/v1/chat/completions", { model: "m" }, { "X-PAYMENT": xPayment });
    expect(paid.headers.get("x-compute-provider")).toBe(`provider-${B}`);
    expect(hits).toEqual(["http://b.test/v1/chat/completions"]);

    // The paid provider is down: 503, and the payment never goes to anyone else.
    upstreams.delete("http://b.test");
    hits = [];
    const down = await post("/v1/chat/completions", { model: "m" }, { "X-PAYMENT": xPayment });
    expect(down.status).toBe(503);
    expect(((await down.json()) as Json).error.message).toContain("1 of 1 tried");
    expect(hits).toEqual([]);

    // A payment to someone who is not a provider of the model: refused, nothing sent.
    const stranger = privateKeyToAccount(generatePrivateKey()).address;
    const toStranger = encodeBase64Json({
      x402Version: 1,
      scheme: "exact",
      network: "eip155:31337",
      payload: await signAuthorization({ signer: payer, token, to: stranger, value: 10n }),
    });
    const refused = await post("/v1/chat/completions", { model: "m" }, { "x-payment": toStranger });
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as Json).error).toMatchObject({ code: "provider_not_found" });
    const unknown = await post("/v1/chat/completions", { model: "m" }, { "x-compute-provider": stranger });
    expect(unknown.status).toBe(404);
    const mismatch = await post(
      "/v1/chat/completions",
      { model: "m" },
      { "x-compute-provider": A, "x-payment": xPayment },
    );
    expect(((await mismatch.json()) as Json).error.code).toBe("provider_mismatch");
    const bad = await post("/v1/chat/completions", { model: "m" }, { "x-compute-provider": "http://b.test" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.code).toBe("invalid_provider");
    expect(hits).toEqual([]);
  });

  it("refuses a pin the chain does not confirm, and stops when the client leaves", async () => {
    list({ address: A, endpoint: "http://a.test", price: 1n }, { address: B, endpoint: "http://b.test", price: 2n });
    chain.set(B, { registered: true, active: true, endpoint: "http://moved.test" });
    const { app, post } = setup();
    const pinned = await post("/v1/chat/completions", { model: "m" }, { "x-compute-provider": B });
    expect(pinned.status).toBe(404);
    expect(((await pinned.json()) as Json).error.message).toMatch(/on-chain endpoint/);
    expect(hits).toEqual([]);

    // A hangs before headers; the client gives up: the upstream call is aborted and nobody else is tried.
    let upstreamAborted = false;
    node(
      "http://a.test",
      "a",
      (c) =>
        new Promise((resolve) => {
          c.req.raw.signal.addEventListener("abort", () => {
            upstreamAborted = true;
            resolve(c.body(null, 500));
          });
        }),
    );
    const ac = new AbortController();
    const pending = app.request("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m" }),
      signal: ac.signal,
    });
    await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const res = await pending;
    expect(res.status).toBe(499);
    expect(hits).toEqual(["http://a.test/v1/chat/completions"]);
    expect(upstreamAborted).toBe(true);
  });

  it("answers bad requests in OpenAI's error shape", async () => {
    list({ address: A, endpoint: "http://a.test", price: 1n });
    const { post } = setup({ maxBodyBytes: 1000 });
    const cases: [unknown, number, Json][] = [
      ["{nope", 400, { type: "invalid_request_error" }],
      [[1, 2], 400, { type: "invalid_request_error" }],
      [{ messages: [] }, 400, { param: "model" }],
      [{ model: 5 }, 400, { param: "model" }],
      [{ model: "m", pad: "x".repeat(2000) }, 413, { code: "request_too_large" }],
      [{ model: "nope" }, 404, { code: "model_not_found", param: "model" }],
    ];
    for (const [body, status, error] of cases) {
      const res = await post("/v1/chat/completions", body);
      expect(res.status).toBe(status);
      const json = (await res.json()) as Json;
      expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
      expect(json.error).toMatchObject(error);
    }
    expect(hits).toEqual([]);
    const loop = await post("/v1/chat/completions", { model: "m" }, { "x-compute-gateway": "1" });
    expect(loop.status).toBe(508);
  });

  it("lists models, and survives an indexer outage on its last answer", async () => {
    list(
      { address: A, endpoint: "http://a.test", price: 1n, models: ["m", "z"] },
      { address: B, endpoint: "http://b.test", price: 1n, models: ["k", "m"] },
      { address: C, endpoint: "ftp://c.test", price: 1n, models: ["hidden"] },
    );
    const { app, post } = setup();
    const models = (await (await app.request("/v1/models")).json()) as Json;
    expect(models).toEqual({
      object: "list",
      data: ["k", "m", "z"].map((id) => ({
        id,
        object: "model",
        created: 1_700_000_000,
        owned_by: "compute-marketplace",
      })),
    });
    expect((await app.request("/v1/models/z")).status).toBe(200);
    expect(((await (await app.request("/v1/models/hidden")).json()) as Json).error.code).toBe("model_not_found");

    expect((await post("/v1/chat/completions", { model: "m" })).status).toBe(200);
    indexerDown = true;
    expect((await post("/v1/chat/completions", { model: "m" })).status).toBe(200);
    const fresh = setup();
    const down = await fresh.post("/v1/chat/completions", { model: "m" });
    expect(down.status).toBe(503);
    expect(((await down.json()) as Json).error.code).toBe("indexer_unavailable");
  });
});
