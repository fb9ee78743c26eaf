/**
 * Gasless rental sessions through the relayer. The renter signs (1) an EIP-3009
 * `ReceiveWithAuthorization` to the rental contract whose nonce is bound to the session terms
 * (`sessionAuthorizationNonce`), and later (2) an EIP-712 `EndSession` for `endSessionBySig`. The relayer
 * submits both and pays the gas; the renter never needs ETH.
 */
import { encodeAbiParameters, getAddress, type Hex, keccak256, stringToBytes } from "viem";
import { randomNonce, signAuthorization, type TokenDomain, type TypedDataSigner } from "./eip3009.ts";
import type { ExactEvmPayload } from "./schemas.ts";

/** Mirror of `ComputeRental.sessionAuthorizationNonce`:
 * keccak256(abi.encode(provider, durationHours, keccak256(bytes(sshPublicKey)), gpuCount, salt)). */
export function sessionAuthorizationNonce(p: {
  provider: `0x${string}`;
  durationHours: bigint;
  sshPublicKey: string;
  gpuCount: bigint;
  salt: Hex;
}): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "uint256" }, { type: "bytes32" }, { type: "uint256" }, { type: "bytes32" }],
      [getAddress(p.provider), p.durationHours, keccak256(stringToBytes(p.sshPublicKey)), p.gpuCount, p.salt],
    ),
  );
}

/** Body of the relayer's `POST /v1/sessions`. Integers as decimal strings. */
export type GaslessSessionRequest = {
  provider: `0x${string}`;
  durationHours: string;
  sshPublicKey: string;
  gpuCount: string;
  salt: Hex;
  /** The signed `receiveWithAuthorization` (to = rental contract, value = the session's cost). */
  payment: ExactEvmPayload;
};

export type SignGaslessSessionParameters = {
  signer: TypedDataSigner;
  /** USDC's domain (the rental contract's authorization token). */
  token: TokenDomain;
  rental: `0x${string}`;
  provider: `0x${string}`;
  durationHours: bigint;
  sshPublicKey: string;
  gpuCount: bigint;
  /** The session's cost: `ComputeRental.quote(provider, usdc, gpuCount, durationHours)`. */
  value: bigint;
  /** Default: random. */
  salt?: Hex;
  /** Default now + 600 s. */
  validBefore?: bigint;
};

/** Sign the gasless session authorization and return the relayer request body. */
export async function signGaslessSession(p: SignGaslessSessionParameters): Promise<GaslessSessionRequest> {
  const salt = p.salt ?? randomNonce();
  const nonce = sessionAuthorizationNonce({ ...p, salt });
  const payment = await signAuthorization({
    signer: p.signer,
    token: p.token,
    to: p.rental,
    value: p.value,
    validBefore: p.validBefore ?? BigInt(Math.floor(Date.now() / 1000) + 600),
    nonce,
    kind: "receive",
  });
  return {
    provider: getAddress(p.provider),
    durationHours: p.durationHours.toString(),
    sshPublicKey: p.sshPublicKey,
    gpuCount: p.gpuCount.toString(),
    salt,
    payment,
  };
}

export const END_SESSION_TYPES = {
  EndSession: [
    { name: "sessionId", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** Body of the relayer's `DELETE /v1/sessions/:id`. */
export type EndSessionRequest = { deadline: string; signature: Hex };

/**
 * Sign `EndSession(sessionId, nonce, deadline)` on the rental contract's domain ("ComputeRental", "1").
 * `nonce` is `ComputeRental.nonces(renter)`.
 */
export async function signEndSession(p: {
  signer: TypedDataSigner;
  chainId: number;
  rental: `0x${string}`;
  sessionId: bigint;
  nonce: bigint;
  /** Default now + 600 s. */
  deadline?: bigint;
}): Promise<EndSessionRequest> {
  const deadline = p.deadline ?? BigInt(Math.floor(Date.now() / 1000) + 600);
  const signature = await p.signer.signTypedData({
    domain: { name: "ComputeRental", version: "1", chainId: p.chainId, verifyingContract: getAddress(p.rental) },
    types: END_SESSION_TYPES,
    primaryType: "EndSession",
    message: { sessionId: p.sessionId, nonce: p.nonce, deadline },
  });
  return { deadline: deadline.toString(), signature };
}
