/**
 * Payee extraction from real x402 payment headers: signed EIP-3009 authorizations built the way the SDK and
 * the official x402 client build them, v1 (`X-PAYMENT`) and v2 (`PAYMENT-SIGNATURE`).
 */
import {
  buildPaymentRequirements,
  createV1PaymentHeader,
  encodeBase64Json,
  signAuthorization,
  toV1Requirements,
} from "@jeju/compute-sdk/x402/index";
import { OpenAIError } from "@jeju/compute-sdk/openai/index";
import { encodePaymentSignatureHeader } from "@x402/core/http";
import { getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { parseProviderId, paymentPayee, providerId } from "./payee.ts";

const USDC = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
const payer = privateKeyToAccount(generatePrivateKey());
const provider = privateKeyToAccount(generatePrivateKey()).address;
const other = privateKeyToAccount(generatePrivateKey()).address;
const token = { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: USDC } as const;

const requirements = (payTo: `0x${string}`) =>
  buildPaymentRequirements({
    chainId: 31337,
    asset: USDC,
    payTo,
    amount: 1234n,
    tokenName: "USD Coin",
    tokenVersion: "2",
  });

async function v2Header(payTo: `0x${string}`) {
  const accepted = requirements(payTo);
  const payload = await signAuthorization({ signer: payer, token, to: payTo, value: 1234n });
  // What @x402/fetch sends on the retry: base64 JSON of the v2 PaymentPayload.
  return encodePaymentSignatureHeader({
    x402Version: 2,
    resource: { url: "http://gateway.test/v1/chat/completions", description: "", mimeType: "application/json" },
    accepted,
    payload,
  });
}

async function v1Header(payTo: `0x${string}`) {
  const req = toV1Requirements(requirements(payTo), {
    url: "http://gateway.test/v1/chat/completions",
    description: "",
    mimeType: "application/json",
  });
  return createV1PaymentHeader({ signer: payer, chainId: 31337, requirement: req });
}

const err = (fn: () => unknown): OpenAIError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof OpenAIError) return e;
    throw e;
  }
  throw new Error("expected an OpenAIError");
};

describe("paymentPayee", () => {
  it("reads the payee of a v2 PAYMENT-SIGNATURE (payload.authorization.to)", async () => {
    const pin = paymentPayee(new Headers({ "payment-signature": await v2Header(provider) }));
    expect(pin).toEqual({ payee: getAddress(provider), x402Version: 2, header: "PAYMENT-SIGNATURE" });
  });

  it("reads the payee of a v1 X-PAYMENT, whatever the address case", async () => {
    const pin = paymentPayee(new Headers({ "X-Payment": await v1Header(provider.toLowerCase() as `0x${string}`) }));
    expect(pin).toEqual({ payee: getAddress(provider), x402Version: 1, header: "X-PAYMENT" });
  });

  it("prefers PAYMENT-SIGNATURE over X-PAYMENT, like the node", async () => {
    const pin = paymentPayee(
      new Headers({ "payment-signature": await v2Header(provider), "x-payment": await v1Header(other) }),
    );
    expect(pin?.payee).toBe(getAddress(provider));
  });

  it("pins to the authorization's payee, not to what `accepted` claims", async () => {
    const payload = await signAuthorization({ signer: payer, token, to: other, value: 1234n });
    const header = encodeBase64Json({ x402Version: 2, accepted: requirements(provider), payload });
    expect(paymentPayee(new Headers({ "payment-signature": header }))?.payee).toBe(getAddress(other));
  });

  it("is undefined without a payment header", () => {
    expect(paymentPayee(new Headers({ authorization: "Bearer x", "x-payment": "" }))).toBeUndefined();
  });

  it("refuses unreadable headers with 400 invalid_payment_header", async () => {
    const cases = [
      "not base64 !!",
      Buffer.from("{not json").toString("base64"),
      encodeBase64Json({ x402Version: 3, payload: {} }),
      encodeBase64Json({ x402Version: 1, scheme: "exact", network: "eip155:31337", payload: { signature: "0x" } }),
      encodeBase64Json({
        x402Version: 2,
        accepted: requirements(provider),
        payload: {
          signature: "0x12",
          authorization: {
            from: payer.address,
            to: "0x1234",
            value: "1",
            validAfter: "0",
            validBefore: "9",
            nonce: `0x${"00".repeat(32)}`,
          },
        },
      }),
    ];
    for (const value of cases) {
      const e = err(() => paymentPayee(new Headers({ "x-payment": value })));
      expect(e.status).toBe(400);
      expect(e.toJSON().error).toMatchObject({ type: "invalid_request_error", code: "invalid_payment_header" });
    }
  });
});

describe("parseProviderId", () => {
  it("accepts provider-0x… and bare addresses in any case, and nothing else", () => {
    const a = getAddress(provider);
    expect(parseProviderId(`provider-${a}`)).toBe(a);
    expect(parseProviderId(`PROVIDER-${a.toLowerCase()}`)).toBe(a);
    expect(parseProviderId(a.toLowerCase())).toBe(a);
    expect(providerId(a.toLowerCase() as `0x${string}`)).toBe(`provider-${a}`);
    for (const bad of ["", "provider-", "0x1234", `provider-${a}00`, "http://evil.test"])
      expect(parseProviderId(bad)).toBeUndefined();
  });
});
