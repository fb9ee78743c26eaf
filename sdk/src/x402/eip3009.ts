/**
 * EIP-3009 signing for clients: `TransferWithAuthorization` (x402 `exact` payments) and
 * `ReceiveWithAuthorization` (gasless sessions, pulled by the rental contract). The signer is anything
 * with `address` and `signTypedData` (a viem `LocalAccount`, or a wallet client bound to an account).
 */
import { bytesToHex, getAddress, type Hex } from "viem";
import { encodeV1PaymentHeader } from "./headers.ts";
import { v1NetworkName } from "./network.ts";
import type { ExactEvmPayload } from "./schemas.ts";

export type TypedDataSigner = {
  readonly address: `0x${string}`;
  signTypedData(args: {
    domain: { name: string; version: string; chainId: number; verifyingContract: `0x${string}` };
    types: Record<string, readonly { name: string; type: string }[]>;
    primaryType: string;
    message: Record<string, unknown>;
  }): Promise<Hex>;
};

/** The token's EIP-712 domain (LocalUSDC and USDC: name "USD Coin", version "2"). */
export type TokenDomain = { name: string; version: string; chainId: number; verifyingContract: `0x${string}` };

const AUTH_FIELDS = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" },
  { name: "validBefore", type: "uint256" },
  { name: "nonce", type: "bytes32" },
] as const;

export const TRANSFER_WITH_AUTHORIZATION_TYPES = { TransferWithAuthorization: AUTH_FIELDS } as const;
export const RECEIVE_WITH_AUTHORIZATION_TYPES = { ReceiveWithAuthorization: AUTH_FIELDS } as const;

/** A random 32-byte EIP-3009 nonce. */
export function randomNonce(): Hex {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
}

export type SignAuthorizationParameters = {
  signer: TypedDataSigner;
  token: TokenDomain;
  to: `0x${string}`;
  value: bigint;
  /** Unix seconds; default 0 (valid at once). */
  validAfter?: bigint;
  /** Unix seconds; default now + 300. */
  validBefore?: bigint;
  /** Default: random. */
  nonce?: Hex;
  /** `transfer` (x402) or `receive` (the payee contract pulls it). Default `transfer`. */
  kind?: "transfer" | "receive";
};

/** Sign an EIP-3009 authorization; returns the x402 `exact` payload `{signature, authorization}`. */
export async function signAuthorization(p: SignAuthorizationParameters): Promise<ExactEvmPayload> {
  const authorization = {
    from: getAddress(p.signer.address),
    to: getAddress(p.to),
    value: p.value,
    validAfter: p.validAfter ?? 0n,
    validBefore: p.validBefore ?? BigInt(Math.floor(Date.now() / 1000) + 300),
    nonce: p.nonce ?? randomNonce(),
  };
  const receive = p.kind === "receive";
  const signature = await p.signer.signTypedData({
    domain: { ...p.token, verifyingContract: getAddress(p.token.verifyingContract) },
    types: receive ? RECEIVE_WITH_AUTHORIZATION_TYPES : TRANSFER_WITH_AUTHORIZATION_TYPES,
    primaryType: receive ? "ReceiveWithAuthorization" : "TransferWithAuthorization",
    message: authorization,
  });
  return {
    signature,
    authorization: {
      from: authorization.from,
      to: authorization.to,
      value: authorization.value.toString(),
      validAfter: authorization.validAfter.toString(),
      validBefore: authorization.validBefore.toString(),
      nonce: authorization.nonce,
    },
  };
}

/**
 * Pay a v1 `402` by hand: sign `transferWithAuthorization` for the first `accepts` entry and return the
 * `X-PAYMENT` header value.
 */
export async function createV1PaymentHeader(p: {
  signer: TypedDataSigner;
  chainId: number;
  requirement: {
    network: string;
    maxAmountRequired: string;
    payTo: string;
    asset: string;
    maxTimeoutSeconds: number;
    extra?: Record<string, unknown>;
  };
  validAfter?: bigint;
  validBefore?: bigint;
  nonce?: Hex;
}): Promise<string> {
  const r = p.requirement;
  const name = String(r.extra?.name ?? "USD Coin");
  const version = String(r.extra?.version ?? "2");
  const payload = await signAuthorization({
    signer: p.signer,
    token: { name, version, chainId: p.chainId, verifyingContract: r.asset as `0x${string}` },
    to: r.payTo as `0x${string}`,
    value: BigInt(r.maxAmountRequired),
    validAfter: p.validAfter,
    validBefore: p.validBefore ?? BigInt(Math.floor(Date.now() / 1000) + r.maxTimeoutSeconds),
    nonce: p.nonce,
  });
  return encodeV1PaymentHeader({ network: r.network || v1NetworkName(p.chainId), payload });
}
