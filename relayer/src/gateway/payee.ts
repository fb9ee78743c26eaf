/**
 * Who an x402 payment pays. A paid provider answers `402` with its own `payTo`; the client signs an EIP-3009
 * authorization to that address and retries with `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1), both base64
 * JSON whose `payload.authorization.to` is the payee. The gateway must send that retry to exactly the provider
 * being paid, so it reads the payee here (no signature check: the provider and the facilitator do that).
 */
import {
  decodeBase64Json,
  exactEvmPayloadSchema,
  HEADER_PAYMENT_SIGNATURE,
  HEADER_PAYMENT_V1,
  PaymentHeaderError,
  paymentPayloadV1Schema,
  paymentPayloadV2Schema,
} from "@jeju/compute-sdk/x402/index";
import { OpenAIError } from "@jeju/compute-sdk/openai/index";
import { type Address, getAddress } from "viem";

export type PaymentPin = {
  /** Checksummed payee: `payload.authorization.to`. */
  payee: Address;
  /** x402 version of the payload. */
  x402Version: 1 | 2;
  /** The header it came in. */
  header: typeof HEADER_PAYMENT_SIGNATURE | typeof HEADER_PAYMENT_V1;
};

function invalidPayment(header: string, detail: string): OpenAIError {
  return new OpenAIError(400, `The ${header} header is not a valid x402 payment: ${detail}`, {
    type: "invalid_request_error",
    code: "invalid_payment_header",
  });
}

/** The payee of one header value (base64 JSON of an x402 v1 or v2 payment payload). */
export function payeeOf(value: string, header: PaymentPin["header"]): PaymentPin {
  let raw: unknown;
  try {
    raw = decodeBase64Json(value);
  } catch (err) {
    throw invalidPayment(header, err instanceof PaymentHeaderError ? err.message : "not base64 JSON");
  }
  const version = (raw as { x402Version?: unknown } | null)?.x402Version;
  const parsed =
    version === 2
      ? paymentPayloadV2Schema.safeParse(raw)
      : version === 1
        ? paymentPayloadV1Schema.safeParse(raw)
        : undefined;
  if (parsed === undefined) throw invalidPayment(header, "no supported x402Version (1 or 2)");
  if (!parsed.success) throw invalidPayment(header, parsed.error.issues[0]?.message ?? "malformed payload");
  const exact = exactEvmPayloadSchema.safeParse(parsed.data.payload);
  if (!exact.success) {
    const issue = exact.error.issues[0];
    throw invalidPayment(
      header,
      `payload.${issue ? issue.path.join(".") : "authorization"}: ${issue?.message ?? "invalid"}`,
    );
  }
  return { payee: getAddress(exact.data.authorization.to), x402Version: version as 1 | 2, header };
}

/**
 * The payee of the payment a request carries, or `undefined` without one. `PAYMENT-SIGNATURE` wins over
 * `X-PAYMENT`, as on the node. Throws a 400 `invalid_payment_header` when the header cannot be read: the
 * request then cannot be routed to the provider it pays.
 */
export function paymentPayee(headers: Headers): PaymentPin | undefined {
  const v2 = headers.get(HEADER_PAYMENT_SIGNATURE);
  if (v2 !== null && v2.trim() !== "") return payeeOf(v2, HEADER_PAYMENT_SIGNATURE);
  const v1 = headers.get(HEADER_PAYMENT_V1);
  if (v1 !== null && v1.trim() !== "") return payeeOf(v1, HEADER_PAYMENT_V1);
  return undefined;
}

/** `provider-0x…` or a bare address (any case) → checksummed address; undefined when it is neither. */
export function parseProviderId(value: string): Address | undefined {
  const v = value.trim();
  const hex = /^provider-/i.test(v) ? v.slice("provider-".length) : v;
  if (!/^0x[0-9a-fA-F]{40}$/.test(hex)) return undefined;
  return getAddress(hex.toLowerCase());
}

/** The id the marketplace shows for a provider (the node's `/v1/providers` uses the same). */
export const providerId = (address: Address): string => `provider-${getAddress(address)}`;
