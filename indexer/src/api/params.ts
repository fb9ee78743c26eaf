/**
 * Query-parameter parsing for the REST routes: everything is validated here, at the edge, and turned into
 * typed values (lowercase addresses, bigints), or a `BadRequest` naming the parameter.
 */
import { parseTeeType } from "@jeju/compute-sdk/indexer/tee";
import { SESSION_STATUSES, type SessionStatus, type TeeType } from "@jeju/compute-sdk/indexer/types";
import { isAddress, zeroAddress } from "viem";

export class BadRequest extends Error {
  override readonly name = "BadRequest";
  constructor(
    message: string,
    readonly param: string,
    readonly code = "invalid_parameter",
  ) {
    super(message);
  }
}

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

type Query = Record<string, string | undefined>;

/** An address in any case (also "provider-0x…"), lowercased; undefined when not an address. */
export function normalizeAddress(input: string): `0x${string}` | undefined {
  const raw = input.trim().replace(/^provider-/i, "");
  return isAddress(raw, { strict: false }) ? (raw.toLowerCase() as `0x${string}`) : undefined;
}

export function parseAddressParam(q: Query, name: string): `0x${string}` | undefined {
  const v = q[name];
  if (v === undefined || v === "") return undefined;
  const a = normalizeAddress(v);
  if (a === undefined) throw new BadRequest(`${name} must be a 0x-prefixed 20-byte address, got "${v}"`, name);
  return a;
}

function parseInteger(q: Query, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = q[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new BadRequest(`${name} must be a non-negative integer, got "${v}"`, name);
  const n = Number(v);
  if (n < min || n > max) throw new BadRequest(`${name} must be between ${min} and ${max}, got ${v}`, name);
  return n;
}

function parseBool(q: Query, name: string): boolean | undefined {
  const v = q[name]?.toLowerCase();
  if (v === undefined || v === "") return undefined;
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new BadRequest(`${name} must be true or false, got "${q[name]}"`, name);
}

export function parsePage(q: Query): { limit: number; offset: number } {
  return {
    limit: parseInteger(q, "limit", 1, MAX_LIMIT) ?? DEFAULT_LIMIT,
    offset: parseInteger(q, "offset", 0) ?? 0,
  };
}

/** "native" / "eth" / "0x0" → the zero address, "usdc" → `usdc`, else an address. */
export function parseToken(q: Query, usdc: `0x${string}` | undefined): `0x${string}` {
  const v = q.token?.trim();
  if (v === undefined || v === "") return zeroAddress;
  const lower = v.toLowerCase();
  if (lower === "native" || lower === "eth" || lower === "0x0") return zeroAddress;
  if (lower === "usdc") {
    if (usdc === undefined || usdc === zeroAddress) throw new BadRequest("no USDC is deployed on this chain", "token");
    return usdc;
  }
  const a = normalizeAddress(v);
  if (a === undefined) throw new BadRequest(`token must be an address, "native" or "usdc", got "${v}"`, "token");
  return a;
}

export type ProviderQuery = {
  model?: string;
  minGpus?: number;
  minAvailableGpus?: number;
  tee?: TeeType | "any";
  token: `0x${string}`;
  maxPrice?: bigint;
  active?: boolean;
  sort?: "price_asc" | "price_desc";
  limit: number;
  offset: number;
};

export function parseProviderQuery(q: Query, usdc?: `0x${string}`): ProviderQuery {
  const out: ProviderQuery = { token: parseToken(q, usdc), ...parsePage(q) };
  if (q.model !== undefined && q.model !== "") out.model = q.model;
  const minGpus = parseInteger(q, "minGpus", 0, 65535);
  if (minGpus !== undefined) out.minGpus = minGpus;
  const minAvailable = parseInteger(q, "minAvailableGpus", 0, 65535);
  if (minAvailable !== undefined) out.minAvailableGpus = minAvailable;
  if (q.tee !== undefined && q.tee !== "") {
    const tee = parseTeeType(q.tee);
    if (tee === undefined) {
      throw new BadRequest(`tee must be one of none, sgx, tdx, sev-snp, nvidia-cc, any; got "${q.tee}"`, "tee");
    }
    out.tee = tee;
  }
  if (q.maxPrice !== undefined && q.maxPrice !== "") {
    if (!/^\d+$/.test(q.maxPrice)) {
      throw new BadRequest(
        `maxPrice must be an integer amount in the token's smallest unit, got "${q.maxPrice}"`,
        "maxPrice",
      );
    }
    out.maxPrice = BigInt(q.maxPrice);
  }
  const active = parseBool(q, "active");
  if (active !== undefined) out.active = active;
  const sort = q.sort?.toLowerCase();
  if (sort !== undefined && sort !== "") {
    if (sort === "price" || sort === "price_asc" || sort === "price:asc") out.sort = "price_asc";
    else if (sort === "-price" || sort === "price_desc" || sort === "price:desc") out.sort = "price_desc";
    else throw new BadRequest(`sort must be price_asc or price_desc, got "${q.sort}"`, "sort");
  }
  return out;
}

export type SessionQuery = {
  renter?: `0x${string}`;
  provider?: `0x${string}`;
  status?: SessionStatus;
  limit: number;
  offset: number;
};

export function parseSessionQuery(q: Query): SessionQuery {
  const out: SessionQuery = { ...parsePage(q) };
  const renter = parseAddressParam(q, "renter");
  if (renter !== undefined) out.renter = renter;
  const provider = parseAddressParam(q, "provider");
  if (provider !== undefined) out.provider = provider;
  if (q.status !== undefined && q.status !== "") {
    const s = q.status.toLowerCase();
    if (!(SESSION_STATUSES as readonly string[]).includes(s)) {
      throw new BadRequest(`status must be one of ${SESSION_STATUSES.join(", ")}; got "${q.status}"`, "status");
    }
    out.status = s as SessionStatus;
  }
  return out;
}

/** A session id: a positive decimal integer. */
export function parseSessionId(raw: string): bigint | undefined {
  return /^\d{1,78}$/.test(raw) && BigInt(raw) > 0n ? BigInt(raw) : undefined;
}
