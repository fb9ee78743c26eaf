/**
 * Building what a paid resource asks for: v2 `PaymentRequirements`, the v1 `accepts` entry derived
 * from it, and the `402` body/header pair (v1 body, v2 `PAYMENT-REQUIRED` header).
 */
import type { PaymentRequired, PaymentRequirements, PaymentRequirementsV1 } from "@x402/core/types";
import { getAddress } from "viem";
import { caip2, chainIdOfNetwork, v1NetworkName } from "./network.ts";

export type BuildRequirementsParameters = {
  chainId: number;
  /** The EIP-3009 token (USDC). */
  asset: `0x${string}`;
  /** Who gets paid: the provider. */
  payTo: `0x${string}`;
  /** Atomic units (USDC: 6 decimals). */
  amount: bigint;
  /** How long the authorization may take to settle. */
  maxTimeoutSeconds?: number;
  /** The token's EIP-712 domain (USDC: "USD Coin", "2"). */
  tokenName: string;
  tokenVersion: string;
};

export function buildPaymentRequirements(p: BuildRequirementsParameters): PaymentRequirements {
  return {
    scheme: "exact",
    network: caip2(p.chainId),
    asset: getAddress(p.asset),
    amount: p.amount.toString(),
    payTo: getAddress(p.payTo),
    maxTimeoutSeconds: p.maxTimeoutSeconds ?? 300,
    extra: { name: p.tokenName, version: p.tokenVersion },
  };
}

export type ResourceDescription = { url: string; description: string; mimeType: string };

/** The v1 `accepts` entry for v2 requirements (network name per {@link v1NetworkName}). */
export function toV1Requirements(req: PaymentRequirements, resource: ResourceDescription): PaymentRequirementsV1 {
  const chainId = chainIdOfNetwork(req.network);
  return {
    scheme: req.scheme,
    network: (chainId === undefined ? req.network : v1NetworkName(chainId)) as PaymentRequirementsV1["network"],
    maxAmountRequired: req.amount,
    resource: resource.url,
    description: resource.description,
    mimeType: resource.mimeType,
    outputSchema: {},
    payTo: req.payTo,
    maxTimeoutSeconds: req.maxTimeoutSeconds,
    asset: req.asset,
    extra: req.extra,
  };
}

/** v1 requirements read as v2 (`maxAmountRequired` → `amount`, network → CAIP-2). */
export function fromV1Requirements(req: {
  scheme: string;
  network: string;
  maxAmountRequired: string;
  payTo: string;
  maxTimeoutSeconds: number;
  asset: string;
  extra?: Record<string, unknown>;
}): PaymentRequirements {
  const chainId = chainIdOfNetwork(req.network);
  return {
    scheme: req.scheme,
    network: chainId === undefined ? (req.network as PaymentRequirements["network"]) : caip2(chainId),
    asset: req.asset,
    amount: req.maxAmountRequired,
    payTo: req.payTo,
    maxTimeoutSeconds: req.maxTimeoutSeconds,
    extra: req.extra ?? {},
  };
}

/** The v1 402 body: `{x402Version: 1, error, accepts}`. */
export function paymentRequiredV1Body(
  error: string,
  requirements: PaymentRequirements[],
  resource: ResourceDescription,
): { x402Version: 1; error: string; accepts: PaymentRequirementsV1[] } {
  return { x402Version: 1, error, accepts: requirements.map((r) => toV1Requirements(r, resource)) };
}

/** The v2 `PaymentRequired` object (sent base64-encoded in `PAYMENT-REQUIRED`). */
export function paymentRequiredV2(
  error: string,
  requirements: PaymentRequirements[],
  resource: ResourceDescription,
): PaymentRequired {
  return {
    x402Version: 2,
    error,
    resource: { url: resource.url, description: resource.description, mimeType: resource.mimeType },
    accepts: requirements,
  };
}
