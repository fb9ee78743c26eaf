/**
 * Renter authentication for a node's per-session endpoints (`/v1/sessions/:id/containers…`).
 *
 * The renter signs, with EIP-191 `personal_sign`, the exact message
 *
 *   Compute session <id>
 *   <METHOD> <path>
 *   expires <unix seconds>
 *
 * and sends `X-Compute-Signature: <expires>.<0x signature>`. The node recovers the signer and compares it with
 * the session's on-chain renter. Node and SDK build the message with {@link sessionRequestMessage} so the
 * bytes always agree. `path` is the request path without query string (`/v1/sessions/7/containers`).
 */
import type { Hex } from "viem";

export const SESSION_SIGNATURE_HEADER = "X-Compute-Signature";

/** Default lifetime of a signed request (seconds). */
export const DEFAULT_SESSION_SIGNATURE_TTL = 300;

/** The exact text the renter signs. */
export function sessionRequestMessage(p: {
  sessionId: bigint | number | string;
  method: string;
  path: string;
  expires: number | bigint;
}): string {
  return `Compute session ${BigInt(p.sessionId).toString()}\n${p.method.toUpperCase()} ${p.path}\nexpires ${BigInt(p.expires).toString()}`;
}

/** Anything that can `personal_sign` (a viem account or wallet client with an account). */
export type MessageSigner = {
  signMessage(args: { message: string }): Promise<Hex>;
};

/** Signs a request and returns the header value `<expires>.<signature>`. */
export async function signSessionRequest(p: {
  signer: MessageSigner;
  sessionId: bigint | number | string;
  method: string;
  path: string;
  /** Unix seconds; default now + {@link DEFAULT_SESSION_SIGNATURE_TTL}. */
  expires?: number;
}): Promise<string> {
  const expires = p.expires ?? Math.floor(Date.now() / 1000) + DEFAULT_SESSION_SIGNATURE_TTL;
  const signature = await p.signer.signMessage({
    message: sessionRequestMessage({ ...p, expires }),
  });
  return `${expires}.${signature}`;
}

/** Splits a header value; undefined when malformed. */
export function parseSessionSignatureHeader(value: string): { expires: number; signature: Hex } | undefined {
  const m = /^(\d{1,12})\.(0x[0-9a-fA-F]{128}|0x[0-9a-fA-F]{130})$/.exec(value.trim());
  if (!m) return undefined;
  return { expires: Number(m[1]), signature: m[2] as Hex };
}
