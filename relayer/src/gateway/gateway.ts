/**
 * The inference gateway: one OpenAI-compatible request in, proxied to a live registered provider serving its
 * model, the provider's answer streamed back unchanged.
 *
 * Per request: read the JSON body (size-limited) for `model`; list candidates (indexer, cheapest first); pin
 * to one provider when the request pays one (x402 `PAYMENT-SIGNATURE` / `X-PAYMENT`) or names one
 * (`X-Compute-Provider`); then for each candidate in turn: check it on-chain (registered, active, endpoint
 * unchanged), POST the original body to `${endpoint}/v1/...` with the headers that matter, and on a
 * connection error, a timeout before response headers, a redirect or a 5xx try the next one. Nothing has been
 * sent to the client at that point, so failover is invisible. The first answer below 500 (4xx and 402
 * included) is passed through: status, the headers that matter, and the body as a stream (SSE flows chunk by
 * chunk; a client that leaves cancels the upstream request).
 */
import {
  bodyTooLargeError,
  readBodyLimited,
  invalidRequestError,
  malformedJsonError,
  modelNotFoundError,
  OpenAIError,
} from "@jeju/compute-sdk/openai/index";
import type { Context } from "hono";
import type { Address } from "viem";
import type { Logger } from "../logger.ts";
import { type Candidate, endpointBase, type ProviderDirectory, type Verdict } from "./directory.ts";
import { type PaymentPin, parseProviderId, paymentPayee, providerId } from "./payee.ts";

/**
 * Request headers forwarded to the provider (everything else stays here). Never the client's credentials
 * (`Authorization`, cookies): a provider is anyone who staked, and a key meant for the gateway is not theirs to see.
 */
export const FORWARDED_REQUEST_HEADERS = ["content-type", "accept", "x-payment", "payment-signature"] as const;

/** Response headers passed back to the client. */
export const PASSED_RESPONSE_HEADERS = [
  "content-type",
  "cache-control",
  "payment-required",
  "payment-response",
  "x-payment-response",
  "retry-after",
  "x-accel-buffering",
] as const;

/**
 * The only response types passed back: anything else (e.g. `text/html` with script) would be served on the
 * relayer's origin, beside the wallet page, so it counts as a failed provider.
 */
export const PASSED_CONTENT_TYPES = ["application/json", "text/event-stream"] as const;

function passedContentType(res: Response): boolean {
  const type = res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  return (PASSED_CONTENT_TYPES as readonly (string | undefined)[]).includes(type);
}

export const PROVIDER_HEADER = "X-Compute-Provider";
/** Marks a request the gateway sent; a provider endpoint that points back at a gateway is refused (loop). */
export const GATEWAY_HOP_HEADER = "X-Compute-Gateway";

export type GatewayOptions = {
  directory: ProviderDirectory;
  log: Logger;
  /** Time allowed to the provider's response headers, ms (default 30 000). */
  timeoutMs?: number;
  /** Largest request body accepted, bytes (default 4 MiB). */
  maxBodyBytes?: number;
  fetch?: typeof fetch;
};

type Attempt = { provider: string; outcome: string };

function providerNotFound(message: string): OpenAIError {
  return new OpenAIError(404, message, { type: "invalid_request_error", code: "provider_not_found" });
}

export class Gateway {
  readonly directory: ProviderDirectory;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  private readonly log: Logger;
  private readonly fetch: typeof fetch;

  constructor(o: GatewayOptions) {
    this.directory = o.directory;
    this.log = o.log;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.maxBodyBytes = o.maxBodyBytes ?? 4 * 1024 * 1024;
    this.fetch = o.fetch ?? fetch;
  }

  /** `GET /v1/models`: the union of the models active providers serve (with a usable endpoint). */
  async models(): Promise<{
    object: "list";
    data: { id: string; object: "model"; created: number; owned_by: string }[];
  }> {
    const providers = await this.directory.providers().catch((err: unknown) => {
      throw indexerUnavailable(err);
    });
    const created = new Map<string, bigint>();
    for (const p of providers) {
      if (!p.active || endpointBase(p.endpoint) === undefined) continue;
      for (const m of p.models) {
        const prev = created.get(m.name);
        if (prev === undefined || p.registeredAt < prev) created.set(m.name, p.registeredAt);
      }
    }
    const data = [...created.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, at]) => ({ id, object: "model" as const, created: Number(at), owned_by: "compute-marketplace" }));
    return { object: "list", data };
  }

  /** `GET /v1/models/:model`. */
  async model(id: string) {
    const found = (await this.models()).data.find((m) => m.id === id);
    if (found === undefined) throw modelNotFoundError(id);
    return found;
  }

  /** Proxy one inference request (`path` is `/v1/chat/completions`, `/v1/completions` or `/v1/embeddings`). */
  async proxy(c: Context, path: string): Promise<Response> {
    if (c.req.header(GATEWAY_HOP_HEADER) !== undefined) {
      throw new OpenAIError(508, "Request loop: this request already went through a compute gateway.", {
        type: "server_error",
        code: "loop_detected",
      });
    }
    const body = await readBody(c, this.maxBodyBytes);
    const model = modelOf(body);
    const pin = this.pinOf(c);

    let candidates: Candidate[];
    try {
      candidates = await this.directory.candidates(model);
    } catch (err) {
      throw indexerUnavailable(err);
    }
    if (candidates.length === 0) throw modelNotFoundError(model);

    if (pin !== undefined) {
      const pinned = candidates.find((x) => x.address === pin.address);
      if (pinned === undefined) {
        this.log.warn({ model, provider: pin.address, via: pin.via }, "gateway: pinned provider is not a candidate");
        throw providerNotFound(
          pin.via === PROVIDER_HEADER
            ? `${providerId(pin.address)} (${PROVIDER_HEADER}) is not a registered, active provider serving \`${model}\`; nothing was sent.`
            : `The ${pin.via} payment pays ${pin.address}, which is not a registered, active provider serving \`${model}\`; nothing was sent.`,
        );
      }
      candidates = [pinned];
    }

    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const v = c.req.header(name);
      if (v !== undefined) headers.set(name, v);
    }
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    headers.set(GATEWAY_HOP_HEADER, "1");

    const attempts: Attempt[] = [];
    const clientSignal = c.req.raw.signal;
    for (let i = 0; i < candidates.length; i++) {
      const cand = candidates[i] as Candidate;
      const id = providerId(cand.address);
      const failover = (outcome: string, extra: Record<string, unknown> = {}) => {
        attempts.push({ provider: id, outcome });
        this.log.warn(
          {
            event: "gateway_failover",
            model,
            path,
            provider: id,
            endpoint: cand.endpoint,
            attempt: i + 1,
            of: candidates.length,
            pinned: pin !== undefined,
            reason: outcome,
            next: i + 1 < candidates.length ? providerId((candidates[i + 1] as Candidate).address) : null,
            ...extra,
          },
          `gateway: ${id} failed (${outcome})${i + 1 < candidates.length ? ", trying the next provider" : ""}`,
        );
      };

      let verdict: Verdict;
      try {
        verdict = await this.directory.verify(cand);
      } catch (err) {
        failover("registry unreachable", { err });
        continue;
      }
      if (!verdict.ok) {
        if (pin !== undefined) {
          this.log.warn(
            { model, provider: id, via: pin.via, reason: verdict.reason },
            "gateway: pinned provider refused",
          );
          throw providerNotFound(
            `${id} is not a registered, active provider serving \`${model}\` (on-chain: ${verdict.reason}); nothing was sent.`,
          );
        }
        failover(`refused: ${verdict.reason}`);
        continue;
      }
      if (clientSignal.aborted) break;

      const url = `${verdict.baseUrl}${path}`;
      const ac = new AbortController();
      const onClientAbort = () => ac.abort(clientSignal.reason);
      clientSignal.addEventListener("abort", onClientAbort, { once: true });
      const timer = setTimeout(
        () => ac.abort(new DOMException(`no response headers within ${this.timeoutMs} ms`, "TimeoutError")),
        this.timeoutMs,
      );
      const started = performance.now();
      let res: Response;
      try {
        res = await this.fetch(url, {
          method: "POST",
          headers,
          body,
          signal: ac.signal,
          redirect: "manual",
        });
      } catch (err) {
        clientSignal.removeEventListener("abort", onClientAbort);
        if (clientSignal.aborted) break;
        this.directory.recordFailure(cand.address);
        failover(ac.signal.aborted ? `timeout: no response headers within ${this.timeoutMs} ms` : describe(err), {
          err: errInfo(err),
        });
        continue;
      } finally {
        clearTimeout(timer);
      }
      const ms = performance.now() - started;
      if (res.status >= 500 || (res.status >= 300 && res.status < 400)) {
        clientSignal.removeEventListener("abort", onClientAbort);
        await res.body?.cancel().catch(() => {});
        this.directory.recordFailure(cand.address);
        failover(res.status >= 500 ? `answered ${res.status}` : `answered a redirect (${res.status}), not followed`, {
          status: res.status,
        });
        continue;
      }
      const empty = res.status === 204 || res.status === 304;
      if (!empty && !passedContentType(res)) {
        clientSignal.removeEventListener("abort", onClientAbort);
        await res.body?.cancel().catch(() => {});
        this.directory.recordFailure(cand.address);
        failover("answered a content type other than JSON or SSE", { status: res.status });
        continue;
      }
      this.directory.recordSuccess(cand.address, ms);
      this.log.debug(
        { model, path, provider: id, status: res.status, ms: Math.round(ms), attempt: i + 1 },
        "gateway: proxied",
      );
      const out = new Headers();
      for (const name of PASSED_RESPONSE_HEADERS) {
        const v = res.headers.get(name);
        if (v !== null) out.set(name, v);
      }
      out.set(PROVIDER_HEADER, id);
      out.set("x-content-type-options", "nosniff");
      return new Response(empty ? null : res.body, { status: res.status, headers: out });
    }

    if (clientSignal.aborted) {
      // The client is gone; whatever is answered is never read.
      return new Response(null, { status: 499 });
    }
    const tried = attempts.length;
    const shown = attempts.slice(0, 5).map((a) => `${a.provider}: ${a.outcome}`);
    if (tried > shown.length) shown.push(`and ${tried - shown.length} more`);
    const summary = shown.join("; ");
    throw new OpenAIError(
      503,
      `No provider could serve \`${model}\`: ${tried} of ${candidates.length} tried, all failed (${summary}). Please retry later.`,
      { type: "service_unavailable_error", code: "no_provider_available" },
    );
  }

  /** The provider a request must go to, if any: the payee of its payment and/or its `X-Compute-Provider`. */
  private pinOf(c: Context): { address: Address; via: string } | undefined {
    const raw = c.req.header(PROVIDER_HEADER);
    let named: Address | undefined;
    if (raw !== undefined && raw.trim() !== "") {
      named = parseProviderId(raw);
      if (named === undefined) {
        throw new OpenAIError(
          400,
          `${PROVIDER_HEADER} must be a provider id (provider-0x…) or an address, got ${JSON.stringify(raw.slice(0, 100))}.`,
          { type: "invalid_request_error", code: "invalid_provider" },
        );
      }
    }
    const paid: PaymentPin | undefined = paymentPayee(c.req.raw.headers);
    if (paid !== undefined && named !== undefined && paid.payee !== named) {
      throw new OpenAIError(
        400,
        `${PROVIDER_HEADER} names ${named} but the ${paid.header} payment pays ${paid.payee}.`,
        { type: "invalid_request_error", code: "provider_mismatch" },
      );
    }
    if (paid !== undefined) return { address: paid.payee, via: paid.header };
    if (named !== undefined) return { address: named, via: PROVIDER_HEADER };
    return undefined;
  }
}

function indexerUnavailable(err: unknown): OpenAIError {
  if (err instanceof OpenAIError) return err;
  return new OpenAIError(503, "The provider directory (indexer) is unavailable. Please retry later.", {
    type: "service_unavailable_error",
    code: "indexer_unavailable",
    cause: err,
  });
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code !== undefined) return `connection failed (${cause.code})`;
  if (cause?.message !== undefined) return `connection failed (${cause.message})`;
  return `connection failed (${err instanceof Error ? err.message : String(err)})`;
}

function errInfo(err: unknown) {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return { name: e?.name, message: e?.message, cause: e?.cause?.code ?? e?.cause?.message };
}

/** The request body as bytes, refusing more than `limit`: a declared Content-Length first, then as it streams. */
async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw bodyTooLargeError(limit);
  return readBodyLimited(c.req.raw.body, limit);
}

/** `model` of an OpenAI request body; 400 for what is not a JSON object with a string `model`. */
function modelOf(body: Uint8Array): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch (err) {
    throw malformedJsonError(err);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalidRequestError("The request body must be a JSON object.");
  }
  const model = (parsed as { model?: unknown }).model;
  if (model === undefined || model === null || model === "") {
    throw invalidRequestError("you must provide a model parameter", "model");
  }
  if (typeof model !== "string") throw invalidRequestError("`model` must be a string.", "model");
  return model;
}
