import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { recoverTypedDataAddress } from "viem";
import { describe, expect, it } from "vitest";
import {
  buildPaymentRequirements,
  caip2,
  chainIdOfNetwork,
  decodeBase64Json,
  decodePayment,
  encodeBase64Json,
  encodeV1PaymentHeader,
  estimateTokens,
  PaymentHeaderError,
  priceBound,
  sessionAuthorizationNonce,
  signAuthorization,
  signGaslessSession,
  toV1Requirements,
  TRANSFER_WITH_AUTHORIZATION_TYPES,
  v1NetworkName,
} from "./index.ts";

const usdc = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
const payTo = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as const;
const req = buildPaymentRequirements({
  chainId: 31337,
  asset: usdc,
  payTo,
  amount: 1234n,
  tokenName: "USD Coin",
  tokenVersion: "2",
});

describe("networks", () => {
  it("maps chains to CAIP-2 and v1 names both ways", () => {
    expect(caip2(31337)).toBe("eip155:31337");
    expect(v1NetworkName(8453)).toBe("base");
    expect(v1NetworkName(31337)).toBe("eip155:31337");
    expect(chainIdOfNetwork("base-sepolia")).toBe(84532);
    expect(chainIdOfNetwork("eip155:31337")).toBe(31337);
    expect(chainIdOfNetwork("solana:mainnet")).toBeUndefined();
  });
});

describe("requirements and headers", () => {
  it("derives the v1 accepts entry from v2 requirements", () => {
    expect(
      toV1Requirements(req, { url: "http://x/v1/chat/completions", description: "d", mimeType: "application/json" }),
    ).toEqual({
      scheme: "exact",
      network: "eip155:31337",
      maxAmountRequired: "1234",
      resource: "http://x/v1/chat/completions",
      description: "d",
      mimeType: "application/json",
      outputSchema: {},
      payTo,
      maxTimeoutSeconds: 300,
      asset: usdc,
      extra: { name: "USD Coin", version: "2" },
    });
  });

  it("decodes a v1 X-Payment into the v2 shape, filling accepted from the server's requirements", async () => {
    const signer = privateKeyToAccount(generatePrivateKey());
    const payload = await signAuthorization({
      signer,
      token: { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: usdc },
      to: payTo,
      value: 1234n,
    });
    const d = decodePayment(decodeBase64Json(encodeV1PaymentHeader({ network: "eip155:31337", payload })), req);
    expect(d).toMatchObject({ x402Version: 1, chainId: 31337, scheme: "exact" });
    expect(d.payload.accepted).toEqual(req);
    const signerOf = await recoverTypedDataAddress({
      domain: { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: usdc },
      types: TRANSFER_WITH_AUTHORIZATION_TYPES,
      primaryType: "TransferWithAuthorization",
      message: {
        ...payload.authorization,
        from: payload.authorization.from as `0x${string}`,
        to: payload.authorization.to as `0x${string}`,
        nonce: payload.authorization.nonce as `0x${string}`,
        value: BigInt(payload.authorization.value),
        validAfter: BigInt(payload.authorization.validAfter),
        validBefore: BigInt(payload.authorization.validBefore),
      },
      signature: payload.signature as `0x${string}`,
    });
    expect(signerOf).toBe(signer.address);
  });

  it("rejects malformed payments with PaymentHeaderError", () => {
    expect(() => decodeBase64Json("%%%")).toThrow(PaymentHeaderError);
    expect(() => decodePayment({ x402Version: 3 }, req)).toThrow(/x402Version/);
    expect(() =>
      decodePayment(
        decodeBase64Json(encodeBase64Json({ x402Version: 1, scheme: "exact", network: "base", payload: {} })),
        req,
      ),
    ).toThrow(/malformed exact EVM payload/);
  });
});

describe("pricing", () => {
  it("bounds the price: prompt × input + max_tokens × n × output", () => {
    expect(
      priceBound({ price: { inputPerToken: 2n, outputPerToken: 5n }, promptTokens: 10, maxTokens: 100, choices: 3 }),
    ).toBe(20n + 1500n);
    expect(estimateTokens("abcdef")).toBe(2);
    expect(estimateTokens("")).toBe(0);
  });
});

describe("gasless sessions", () => {
  it("binds the authorization nonce to the session terms", async () => {
    const signer = privateKeyToAccount(generatePrivateKey());
    const body = await signGaslessSession({
      signer,
      token: { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: usdc },
      rental: payTo,
      provider: signer.address,
      durationHours: 2n,
      sshPublicKey: "ssh-ed25519 AAAA",
      gpuCount: 1n,
      value: 10n,
    });
    const expected = sessionAuthorizationNonce({
      provider: signer.address,
      durationHours: 2n,
      sshPublicKey: "ssh-ed25519 AAAA",
      gpuCount: 1n,
      salt: body.salt,
    });
    expect(body.payment.authorization.nonce).toBe(expected);
    expect(
      sessionAuthorizationNonce({
        provider: signer.address,
        durationHours: 3n,
        sshPublicKey: "ssh-ed25519 AAAA",
        gpuCount: 1n,
        salt: body.salt,
      }),
    ).not.toBe(expected);
  });
});
