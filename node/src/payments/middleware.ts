/**
 * `x402Payments(...)`: Hono middleware that puts per-token prices on the inference routes
 * (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`).
 *
 * The body is read once (size-bounded, chunked bodies too) and parsed with the route's schema
 * (`routes/request.ts`); the middleware prices that parsed object and the route runs exactly it.
 *
 * For a paid model, before any model work:
 *   1. price the request: every prompt token the backend will see (messages with names, tool calls and tool
 *      results, `tools`, an object `tool_choice`, `response_format` with its schema, a completion's `suffix`;
 *      the node's tokenizer, else an estimate) × input price + the effective max tokens × `n` × output price.
 *      The effective max tokens is one rule for pricing and generation (`max_completion_tokens`, else `max_tokens`
 *      for chat; `max_tokens` for completions) and is written into the request (`defaultMaxTokens` when unset),
 *      so the backend cannot produce more than was paid for;
 *   2. no payment → `402` with the v1 body `{x402Version: 1, error, accepts}` and the v2 `PAYMENT-REQUIRED`
 *      header;
 *   3. a payment (`PAYMENT-SIGNATURE` v2, or `X-PAYMENT` v1) is checked locally (scheme, chain, asset,
 *      recipient, amount, time window), its nonce is claimed atomically in the spent-nonce store (a replay,
 *      even concurrent, gets `402`), then verified by the facilitator (signature, balance, simulation).
 * Then the route runs. Settlement happens after the route has produced its response and before any byte of
 * it is sent — for a stream, once the backend has produced its first token but before the client sees it:
 *   - settled → `PAYMENT-RESPONSE` and `X-PAYMENT-RESPONSE` headers (base64 `SettleResponse` with the tx hash);
 *   - refused for good (payer emptied the balance meanwhile, …) → the answer is withheld (a stream is
 *     cancelled, stopping generation) and the client gets `402`;
 *   - rate-limited by the facilitator → the answer is withheld: `503 settlement_rate_limited`;
 *   - facilitator unreachable / not yet mined → the answer is withheld: `503 settlement_pending`; the settlement
 *     is stored as `pending` and retried in the background until it settles or fails (recorded either way).
 * Nothing is delivered unpaid. The nonce claim is released only when the route fails before any model work;
 * once work has started the authorization is used, whatever the client does (an abort does not free it).
 */
import {
  buildPaymentRequirements,
  type DecodedPayment,
  decodePaymentHeaders,
  encodeBase64Json,
  estimateTokens,
  HEADER_PAYMENT_REQUIRED,
  HEADER_PAYMENT_RESPONSE,
  HEADER_PAYMENT_RESPONSE_V1,
  isFree,
  type ModelPrice,
  PaymentHeaderError,
  paymentRequiredV1Body,
  paymentRequiredV2,
  priceBound,
  type ResourceDescription,
} from "@jeju/compute-sdk/x402/index";
import type { PaymentPayload, PaymentRequirements, SettleResponse } from "@x402/core/types";
import { messageText } from "@jeju/compute-sdk/openai/index";
import type { MiddlewareHandler } from "hono";
import { getAddress, isAddressEqual } from "viem";
import type { Logger } from "../logger.ts";
import { type FacilitatorClient, FacilitatorUnavailableError, HttpFacilitatorClient } from "./facilitator.ts";
import {
  capMaxTokens,
  effectiveMaxTokens,
  type InferenceBody,
  type InferenceKind,
  inferenceKind,
  parsedRequest,
} from "../routes/request.ts";
import type { SpentNonceStore } from "./store.ts";

export type TokenCounter = (text: string, model: string) => number | Promise<number>;

export type X402PaymentsOptions = {
  /** Per-token prices by model id; `undefined` or both prices 0 means free. */
  pricing: Record<string, ModelPrice> | ((model: string) => ModelPrice | undefined);
  /** The facilitator (relayer) base URL, e.g. http://127.0.0.1:4010. */
  facilitatorUrl: string;
  chainId: number;
  /** The EIP-3009 token (USDC) address. */
  usdc: `0x${string}`;
  /** Who gets paid: the provider's address. */
  payTo: `0x${string}`;
  spentNonceStore: SpentNonceStore;
  /** The node's tokenizer; without it prompts are estimated (see `estimateTokens`). */
  countTokens?: TokenCounter;
  /** Completion tokens priced (and enforced) when a request sets no `max_tokens`. Default 1024. */
  defaultMaxTokens?: number;
  /** Token EIP-712 domain. Default "USD Coin" / "2". */
  tokenName?: string;
  tokenVersion?: string;
  /** How long an authorization may be settled after signing. Default 300 s. */
  maxTimeoutSeconds?: number;
  /** Bodies above this are refused with 413 (counted as they arrive; no Content-Length needed). Default 4 MiB. */
  maxBodyBytes?: number;
  /** Background retry of pending settlements (ms); 0 disables the timer. Default 10 000. */
  retryIntervalMs?: number;
  log?: Logger;
  /** Replace the HTTP facilitator client (tests). */
  facilitator?: FacilitatorClient;
};

export type X402PaymentsMiddleware = MiddlewareHandler & {
  /** Retry every pending settlement once; returns how many settled. */
  retryPendingSettlements(): Promise<number>;
  /** Stop the retry timer. */
  close(): void;
};

/** Settlement failures worth retrying (the payment itself is fine). */
const RETRYABLE = new Set([
  "settlement_pending",
  "unexpected_settle_error",
  "rate_limited",
  "invalid_transaction_state",
]);

type Priced = { model: string; amount: bigint; promptTokens: number; maxTokens: number; stream: boolean };

export function x402Payments(options: X402PaymentsOptions): X402PaymentsMiddleware {
  const o = {
    defaultMaxTokens: 1024,
    tokenName: "USD Coin",
    tokenVersion: "2",
    maxTimeoutSeconds: 300,
    maxBodyBytes: 4 * 1024 * 1024,
    retryIntervalMs: 10_000,
    ...options,
  };
  const facilitator = o.facilitator ?? new HttpFacilitatorClient(o.facilitatorUrl);
  const store = o.spentNonceStore;
  const payTo = getAddress(o.payTo);
  const usdc = getAddress(o.usdc);
  const priceOf =
    typeof o.pricing === "function" ? o.pricing : (m: string) => (o.pricing as Record<string, ModelPrice>)[m];
  const log = o.log;

  const middleware: MiddlewareHandler = async (c, next) => {
    if (c.req.method !== "POST") return next();
    const kind = inferenceKind(c.req.path);
    if (kind === undefined) return next();
    // The one parse: the route reads this same object (routes/request.ts); a bad body is the route's 400/413.
    const body = await parsedRequest(c, kind, o.maxBodyBytes);
    const price = priceOf(body.model);
    if (isFree(price)) return next();
    const priced = await priceRequest(kind, body, price as ModelPrice);
    if (priced.amount === 0n) return next();

    const requirements = buildPaymentRequirements({
      chainId: o.chainId,
      asset: usdc,
      payTo,
      amount: priced.amount,
      maxTimeoutSeconds: o.maxTimeoutSeconds,
      tokenName: o.tokenName,
      tokenVersion: o.tokenVersion,
    });
    const resource: ResourceDescription = {
      url: c.req.url,
      description: `${priced.model}: ${priced.promptTokens} prompt tokens + up to ${priced.maxTokens} completion tokens`,
      mimeType: priced.stream ? "text/event-stream" : "application/json",
    };
    const refuse = (error: string) => paymentRequired(error, requirements, resource);

    let payment: DecodedPayment | undefined;
    try {
      payment = decodePaymentHeaders(c.req.raw.headers, requirements);
    } catch (err) {
      if (err instanceof PaymentHeaderError) return refuse(err.message);
      throw err;
    }
    if (payment === undefined) return refuse("X-PAYMENT or PAYMENT-SIGNATURE header is required");

    const problem = checkPayment(payment, requirements, o.chainId);
    if (problem) return refuse(problem);

    const auth = payment.exact.authorization;
    const key = `${o.chainId}:${usdc.toLowerCase()}:${auth.from.toLowerCase()}:${auth.nonce.toLowerCase()}`;
    if (!store.claim(key, { payer: getAddress(auth.from), amount: auth.value, resource: c.req.path })) {
      return refuse("payment authorization already used (nonce spent): it buys exactly one answer");
    }
    // What the facilitator checks and settles: exactly what was signed (a v1 payer may pay more).
    const settleRequirements: PaymentRequirements = { ...requirements, amount: auth.value };
    const settlePayload: PaymentPayload = {
      ...payment.payload,
      x402Version: 2,
      accepted: { ...payment.payload.accepted, amount: auth.value },
    };

    try {
      const v = await facilitator.verify(settlePayload, settleRequirements);
      if (!v.isValid) {
        if (v.invalidReason !== "invalid_exact_evm_nonce_already_used") store.release(key);
        return refuse(
          `${v.invalidReason ?? "invalid_payment"}: ${v.invalidMessage ?? "payment refused by the facilitator"}`,
        );
      }
    } catch (err) {
      store.release(key);
      log?.warn({ err }, "x402 verify failed");
      return c.json(
        {
          error: {
            message: "Payment facilitator unavailable; retry later.",
            type: "server_error",
            param: null,
            code: "facilitator_unavailable",
          },
        },
        503,
      );
    }

    await next();

    const res = c.res;
    const workStarted = c.get("inferenceWorkStarted") === true;
    const clientAborted = c.req.raw.signal.aborted;
    if (res.status >= 400 && !(workStarted && clientAborted)) {
      // No answer: the claim is released only when no model work was done; once work started the
      // authorization is consumed (kept claimed) even though nothing is charged for a provider-side failure.
      if (workStarted) store.markFailed(key, `route answered ${res.status} after work started`);
      else store.release(key);
      return;
    }

    // An answer (or a client that went away after work started, which pays for the work it asked for).
    const request = JSON.stringify({ paymentPayload: settlePayload, paymentRequirements: settleRequirements });
    let settled: SettleResponse;
    try {
      settled = await facilitator.settle(settlePayload, settleRequirements);
    } catch (err) {
      settled = {
        success: false,
        errorReason: "settlement_pending",
        errorMessage: (err as Error).message,
        transaction: "",
        network: requirements.network,
        payer: getAddress(auth.from),
      };
    }
    if (settled.success) {
      store.markSettled(key, settled.transaction);
      log?.info({ key, tx: settled.transaction, amount: auth.value, path: c.req.path }, "x402 payment settled");
    } else {
      // Released only when settled: whatever went wrong, the answer (or stream) is withheld.
      await res.body?.cancel().catch(() => {});
      c.res = undefined as unknown as Response;
      const reason = settled.errorReason ?? "unknown";
      const detail = `${reason}: ${settled.errorMessage ?? ""}`;
      if (reason === "rate_limited") {
        // Nothing was sent on chain: a payer who empties its own facilitator bucket gets no answer.
        store.markFailed(key, detail);
        log?.warn({ key, reason }, "x402 settlement rate-limited; answer withheld");
        c.res = settlementError(
          503,
          "settlement_rate_limited",
          `Payment could not be settled (${detail}); no answer was delivered. Retry later with a new authorization.`,
        );
      } else if (RETRYABLE.has(reason)) {
        // The transfer may still land: keep reconciling in the background so the record ends true.
        store.markPending(key, request, detail);
        log?.warn({ key, reason }, "x402 settlement not confirmed; answer withheld, will reconcile");
        c.res = settlementError(
          503,
          "settlement_pending",
          `Payment settlement is not confirmed (${detail}); no answer was delivered.`,
        );
      } else {
        store.markFailed(key, detail);
        log?.warn({ key, reason }, "x402 settlement refused; answer withheld");
        c.res = refuse(`settlement failed: ${detail}`);
      }
      return;
    }
    if (res.status >= 400) return; // the client is gone; settled for the work it started
    const encoded = encodeBase64Json(settled);
    const headers = new Headers(res.headers);
    headers.set(HEADER_PAYMENT_RESPONSE, encoded);
    headers.set(HEADER_PAYMENT_RESPONSE_V1, encoded);
    c.res = undefined as unknown as Response;
    c.res = new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };

  /** The price of the parsed request: every token the backend sees, and the completion cap it honours. */
  async function priceRequest(
    kind: InferenceKind,
    body: InferenceBody[InferenceKind],
    price: ModelPrice,
  ): Promise<Priced> {
    const model = body.model;
    const count = async (text: string) => (o.countTokens ? await o.countTokens(text, model) : estimateTokens(text));
    if (kind === "embeddings") {
      const b = body as InferenceBody["embeddings"];
      let promptTokens = 0;
      for (const it of typeof b.input === "string" ? [b.input] : b.input) promptTokens += await count(it);
      return {
        model,
        amount: priceBound({ price, promptTokens, maxTokens: 0 }),
        promptTokens,
        maxTokens: 0,
        stream: false,
      };
    }
    const gen = body as InferenceBody["chat"] | InferenceBody["completions"];
    const n = gen.n ?? 1;
    let promptTokens = 0;
    let outputs = n;
    if (kind === "chat") {
      const b = body as InferenceBody["chat"];
      promptTokens = 3;
      for (const m of b.messages) {
        promptTokens += 4 + (await count(messageText(m)));
        if (m.name !== undefined) promptTokens += await count(m.name);
        if (m.tool_call_id !== undefined) promptTokens += await count(m.tool_call_id);
        if (m.tool_calls !== undefined) promptTokens += await count(JSON.stringify(m.tool_calls));
      }
      if (b.tools != null) promptTokens += await count(JSON.stringify(b.tools));
      if (b.tool_choice != null && typeof b.tool_choice === "object")
        promptTokens += await count(JSON.stringify(b.tool_choice));
      if (b.response_format != null) promptTokens += await count(JSON.stringify(b.response_format));
    } else {
      const b = body as InferenceBody["completions"];
      const prompts = typeof b.prompt === "string" ? [b.prompt] : b.prompt;
      outputs = n * prompts.length;
      for (const p of prompts) promptTokens += await count(p);
      if (b.suffix != null) promptTokens += await count(b.suffix);
    }
    const maxTokens = effectiveMaxTokens(kind, gen) ?? o.defaultMaxTokens;
    // Enforce what is priced: the route runs this same object with this cap.
    capMaxTokens(kind, gen, maxTokens);
    return {
      model,
      amount: priceBound({ price, promptTokens, maxTokens, choices: outputs }),
      promptTokens,
      maxTokens,
      stream: gen.stream === true,
    };
  }

  async function retryPendingSettlements(): Promise<number> {
    let settledCount = 0;
    for (const rec of store.pending()) {
      if (!rec.request) continue;
      const { paymentPayload, paymentRequirements } = JSON.parse(rec.request) as {
        paymentPayload: PaymentPayload;
        paymentRequirements: PaymentRequirements;
      };
      try {
        const r = await facilitator.settle(paymentPayload, paymentRequirements);
        if (r.success) {
          store.markSettled(rec.key, r.transaction);
          settledCount++;
          log?.info({ key: rec.key, tx: r.transaction }, "x402 pending settlement settled");
        } else if (RETRYABLE.has(r.errorReason ?? "")) {
          store.markPending(rec.key, rec.request, `${r.errorReason}: ${r.errorMessage ?? ""}`);
        } else {
          store.markFailed(rec.key, `${r.errorReason}: ${r.errorMessage ?? ""}`);
          log?.error({ key: rec.key, reason: r.errorReason }, "x402 pending settlement failed for good");
        }
      } catch (err) {
        if (!(err instanceof FacilitatorUnavailableError)) log?.error({ err }, "x402 settlement retry error");
        store.markPending(rec.key, rec.request, (err as Error).message);
      }
    }
    return settledCount;
  }

  let timer: NodeJS.Timeout | undefined;
  if (o.retryIntervalMs > 0) {
    timer = setInterval(() => {
      retryPendingSettlements().catch((err) => log?.error({ err }, "x402 retry loop"));
    }, o.retryIntervalMs);
    timer.unref();
  }

  return Object.assign(middleware, {
    retryPendingSettlements,
    close: () => {
      if (timer) clearInterval(timer);
    },
  });
}

/** Local checks, before touching the store or the facilitator; returns the refusal reason. */
function checkPayment(p: DecodedPayment, req: PaymentRequirements, chainId: number): string | undefined {
  if (p.scheme !== "exact") return `unsupported scheme '${p.scheme}' (only 'exact')`;
  if (p.chainId !== chainId)
    return `wrong chain: payment is for network '${p.network}', this node takes ${req.network}`;
  const a = p.exact.authorization;
  if (p.x402Version === 2) {
    const acc = p.payload.accepted;
    if (
      !/^0x[0-9a-fA-F]{40}$/.test(acc.asset) ||
      !isAddressEqual(acc.asset as `0x${string}`, req.asset as `0x${string}`)
    ) {
      return `wrong asset: payment is in ${acc.asset}, this node takes ${req.asset}`;
    }
    if (
      !/^0x[0-9a-fA-F]{40}$/.test(acc.payTo) ||
      !isAddressEqual(acc.payTo as `0x${string}`, req.payTo as `0x${string}`)
    ) {
      return `wrong payTo: payment accepted payTo ${acc.payTo}, this node is paid at ${req.payTo}`;
    }
  }
  if (!isAddressEqual(a.to as `0x${string}`, req.payTo as `0x${string}`)) {
    return `wrong payTo: authorization pays ${a.to}, this node is paid at ${req.payTo}`;
  }
  if (BigInt(a.value) < BigInt(req.amount))
    return `underpaid: authorization is for ${a.value}, this request costs ${req.amount}`;
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (BigInt(a.validBefore) < now + 6n)
    return `authorization expired (validBefore ${a.validBefore} ≤ now ${now} + 6 s)`;
  if (BigInt(a.validAfter) > now) return `authorization not yet valid (validAfter ${a.validAfter} > now ${now})`;
  return undefined;
}

function paymentRequired(error: string, requirements: PaymentRequirements, resource: ResourceDescription): Response {
  return new Response(JSON.stringify(paymentRequiredV1Body(error, [requirements], resource)), {
    status: 402,
    headers: {
      "content-type": "application/json",
      [HEADER_PAYMENT_REQUIRED]: encodeBase64Json(paymentRequiredV2(error, [requirements], resource)),
      "cache-control": "no-store",
    },
  });
}

function settlementError(status: 402 | 503, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { message, type: "server_error", param: null, code } }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", "retry-after": "1" },
  });
}
