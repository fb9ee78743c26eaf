/**
 * x402 HTTP headers. v1: the client sends `X-PAYMENT` (base64 JSON `PaymentPayloadV1`), the server answers
 * `X-PAYMENT-RESPONSE`. v2: `PAYMENT-REQUIRED` (402), `PAYMENT-SIGNATURE` (retry), `PAYMENT-RESPONSE`.
 * Header names are case-insensitive; values are base64 of UTF-8 JSON.
 */
import type { PaymentPayload, PaymentRequirements, SettleResponse } from "@x402/core/types";
import { fromV1Requirements } from "./requirements.ts";
import {
  type ExactEvmPayload,
  exactEvmPayloadSchema,
  paymentPayloadV1Schema,
  paymentPayloadV2Schema,
} from "./schemas.ts";
import { caip2, chainIdOfNetwork } from "./network.ts";

export const HEADER_PAYMENT_V1 = "X-PAYMENT";
export const HEADER_PAYMENT_RESPONSE_V1 = "X-PAYMENT-RESPONSE";
export const HEADER_PAYMENT_REQUIRED = "PAYMENT-REQUIRED";
export const HEADER_PAYMENT_SIGNATURE = "PAYMENT-SIGNATURE";
export const HEADER_PAYMENT_RESPONSE = "PAYMENT-RESPONSE";

export function encodeBase64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64");
}

export function decodeBase64Json(value: string): unknown {
  const trimmed = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new PaymentHeaderError("payment header is not base64");
  const text = Buffer.from(trimmed, "base64").toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PaymentHeaderError("payment header is not base64-encoded JSON");
  }
}

export class PaymentHeaderError extends Error {
  override readonly name = "PaymentHeaderError";
  readonly code = "invalid_payment_header";
}

/** A payment from either header, normalized to the v2 shape the facilitator speaks. */
export type DecodedPayment = {
  x402Version: 1 | 2;
  /** Normalized v2 payload; for v1, `accepted` is filled from the v1 fields and the server's requirements. */
  payload: PaymentPayload;
  /** The `exact` EVM authorization and signature. */
  exact: ExactEvmPayload;
  /** Chain id named by the payment's network, if it names one. */
  chainId: number | undefined;
  /** The payment's network string as sent. */
  network: string;
  scheme: string;
};

/**
 * Decode the payment a request carries: `PAYMENT-SIGNATURE` (v2) wins over `X-PAYMENT` (v1). Returns
 * `undefined` when neither header is present; throws {@link PaymentHeaderError} when one is malformed.
 * `requirements` (the server's own) fill a v1 payload's `accepted`, which v1 does not carry.
 */
export function decodePaymentHeaders(headers: Headers, requirements: PaymentRequirements): DecodedPayment | undefined {
  const v2 = headers.get(HEADER_PAYMENT_SIGNATURE);
  const v1 = headers.get(HEADER_PAYMENT_V1);
  if (v2 !== null && v2 !== "") return decodePayment(decodeBase64Json(v2), requirements);
  if (v1 !== null && v1 !== "") return decodePayment(decodeBase64Json(v1), requirements);
  return undefined;
}

/** Normalize a decoded v1 or v2 payment payload object. */
export function decodePayment(raw: unknown, requirements: PaymentRequirements): DecodedPayment {
  const version = (raw as { x402Version?: unknown } | null)?.x402Version;
  if (version === 2) {
    const p = paymentPayloadV2Schema.safeParse(raw);
    if (!p.success) throw new PaymentHeaderError(`malformed x402 v2 payment: ${p.error.issues[0]?.message ?? ""}`);
    const exact = parseExact(p.data.payload);
    const payload = p.data as unknown as PaymentPayload;
    return {
      x402Version: 2,
      payload,
      exact,
      chainId: chainIdOfNetwork(p.data.accepted.network),
      network: p.data.accepted.network,
      scheme: p.data.accepted.scheme,
    };
  }
  if (version === 1) {
    const p = paymentPayloadV1Schema.safeParse(raw);
    if (!p.success) throw new PaymentHeaderError(`malformed x402 v1 payment: ${p.error.issues[0]?.message ?? ""}`);
    const exact = parseExact(p.data.payload);
    const chainId = chainIdOfNetwork(p.data.network);
    const accepted: PaymentRequirements = {
      ...requirements,
      scheme: p.data.scheme,
      network: chainId === undefined ? (p.data.network as PaymentRequirements["network"]) : caip2(chainId),
    };
    return {
      x402Version: 1,
      payload: { x402Version: 1, accepted, payload: exact },
      exact,
      chainId,
      network: p.data.network,
      scheme: p.data.scheme,
    };
  }
  throw new PaymentHeaderError("payment header has no supported x402Version (1 or 2)");
}

function parseExact(payload: unknown): ExactEvmPayload {
  const e = exactEvmPayloadSchema.safeParse(payload);
  if (!e.success) {
    const issue = e.error.issues[0];
    throw new PaymentHeaderError(
      `malformed exact EVM payload: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`,
    );
  }
  return e.data;
}

/** Encode a settlement result for `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`. */
export function encodePaymentResponse(response: SettleResponse): string {
  return encodeBase64Json(response);
}

export function decodePaymentResponse(value: string): SettleResponse {
  return decodeBase64Json(value) as SettleResponse;
}

/** Build a hand-made v1 `X-PAYMENT` header value (what the docs' clients send). */
export function encodeV1PaymentHeader(p: { network: string; payload: ExactEvmPayload; scheme?: string }): string {
  return encodeBase64Json({ x402Version: 1, scheme: p.scheme ?? "exact", network: p.network, payload: p.payload });
}

export { fromV1Requirements };
