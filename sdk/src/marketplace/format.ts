/**
 * Indexer records → the node's marketplace JSON (`/v1/providers…`): hardware specs, pricing with token
 * symbol and decimals, availability, TEE status and attestation measurements.
 */
import type { Provider } from "../indexer/types.ts";
import { teeTypeLabel } from "../indexer/tee.ts";
import { type Address, formatUnits, getAddress, keccak256, toBytes, zeroAddress } from "viem";

export type TokenInfo = { symbol: string; decimals: number };

/** Known payment tokens by lowercase address; the zero address is the native token. */
export type TokenBook = ReadonlyMap<string, TokenInfo>;

/** ETH (18 decimals) plus USDC (6 decimals) when its address is known (deployments file). */
export function tokenBook({ usdc, nativeSymbol = "ETH" }: { usdc?: Address; nativeSymbol?: string } = {}): TokenBook {
  const book = new Map<string, TokenInfo>([[zeroAddress, { symbol: nativeSymbol, decimals: 18 }]]);
  if (usdc !== undefined && usdc !== zeroAddress) book.set(usdc.toLowerCase(), { symbol: "USDC", decimals: 6 });
  return book;
}

/** The docs' provider id: `provider-0x…` (checksummed). */
export const providerId = (address: string): string => `provider-${getAddress(address)}`;

export type Rate = {
  /** Token address, 0x0…0 for the native token. */
  token: Address;
  symbol: string | null;
  decimals: number | null;
  /** Smallest units per GPU-hour (decimal string). */
  amount: string;
  /** Human amount per GPU-hour, e.g. "2.5" (null for an unknown token). */
  formatted: string | null;
};

function rate(token: string, amount: bigint, tokens: TokenBook): Rate {
  const info = tokens.get(token.toLowerCase());
  return {
    token: getAddress(token),
    symbol: info?.symbol ?? null,
    decimals: info?.decimals ?? null,
    amount: amount.toString(),
    formatted: info === undefined ? null : formatUnits(amount, info.decimals),
  };
}

/** The attestation commitment check: keccak256 of the indexed attestation equals the on-chain hash. */
export function attestationMatches(p: Pick<Provider, "attestation" | "attestationHash">): boolean {
  return keccak256(toBytes(p.attestation)).toLowerCase() === p.attestationHash.toLowerCase();
}

/** A provider counts as TEE-verified when it declares a TEE and publishes an attestation matching its on-chain hash. */
export function teeVerified(p: Provider): boolean {
  return p.hardware.teeType !== "None" && p.attestation !== "" && attestationMatches(p);
}

export function providerView(p: Provider, tokens: TokenBook) {
  const rates = p.tokenPrices.map((t) => rate(t.token, t.pricePerHour, tokens));
  // The docs quote rentals in USDC: prefer it, then the native price, then whatever the provider accepts.
  const usdcRate = rates.find((r) => r.symbol === "USDC");
  const nativeRate = rates.find((r) => r.token === zeroAddress);
  const hourly = usdcRate ?? nativeRate ?? rates[0] ?? null;
  const usdc = [...tokens.entries()].find(([, info]) => info.symbol === "USDC");
  const available = Math.max(0, p.hardware.gpuCount - p.gpusInUse);
  const slotsFree = p.maxConcurrentRentals === 0 || p.activeRentals < p.maxConcurrentRentals;
  return {
    id: providerId(p.address),
    object: "provider" as const,
    address: getAddress(p.address),
    endpoint: p.endpoint,
    status: p.active ? ("active" as const) : ("inactive" as const),
    hardware: {
      gpus: {
        model: p.hardware.gpuModel === "" ? null : p.hardware.gpuModel,
        count: p.hardware.gpuCount,
        vramGb: p.hardware.vramGb,
      },
      cpu: { cores: p.hardware.cpuCores },
      memory: { gb: p.hardware.memoryGb },
      storage: { gb: p.hardware.storageGb },
    },
    pricing: {
      /** Per GPU-hour (CPU-only machines: per hour). */
      hourlyRate: hourly,
      rates,
      models: p.models.map((m) => ({
        name: m.name,
        token: usdc === undefined ? null : getAddress(usdc[0]),
        symbol: usdc === undefined ? null : usdc[1].symbol,
        decimals: usdc === undefined ? null : usdc[1].decimals,
        inputPricePerToken: m.inputPricePerToken.toString(),
        outputPricePerToken: m.outputPricePerToken.toString(),
      })),
    },
    models: p.models.map((m) => m.name),
    availability: {
      gpusTotal: p.hardware.gpuCount,
      gpusInUse: p.gpusInUse,
      gpusAvailable: available,
      activeRentals: p.activeRentals,
      maxConcurrentRentals: p.maxConcurrentRentals,
      acceptingRentals: p.active && slotsFree && (p.hardware.gpuCount === 0 || available > 0),
    },
    tee: {
      type: p.hardware.teeType,
      name: teeTypeLabel(p.hardware.teeType),
      enabled: p.hardware.teeType !== "None",
      verified: teeVerified(p),
      attestationHash: p.attestationHash,
    },
    stake: {
      amount: p.stake.toString(),
      pendingUnstake: p.pendingUnstake.toString(),
      formatted: formatUnits(p.stake, 18),
      symbol: "ETH",
    },
    strikes: p.strikes,
    totalSlashed: p.totalSlashed.toString(),
    lastHeartbeat: Number(p.lastHeartbeat),
    registeredAt: Number(p.registeredAt),
  };
}

export type ProviderView = ReturnType<typeof providerView>;

const MEASUREMENT_KEYS: Record<string, string> = {
  mrenclave: "mrenclave",
  mrsigner: "mrsigner",
  mrtd: "mrtd",
  rtmr0: "rtmr0",
  rtmr1: "rtmr1",
  rtmr2: "rtmr2",
  rtmr3: "rtmr3",
  measurement: "measurement",
  isvprodid: "isvProdId",
  isvsvn: "isvSvn",
  reportdata: "reportData",
};

/** Finds measurement fields at any depth of a JSON attestation (keys compared without case, `_` or `-`). */
function findMeasurements(value: unknown, out: Record<string, unknown>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== "object") return;
  for (const [k, v] of Object.entries(value)) {
    const key = MEASUREMENT_KEYS[k.toLowerCase().replace(/[_-]/g, "")];
    if (key !== undefined && out[key] === undefined && (typeof v === "string" || typeof v === "number")) out[key] = v;
    else findMeasurements(v, out, depth + 1);
  }
}

export type AttestationFormat = "none" | "json" | "hex" | "base64" | "text";

export function parseAttestation(data: string): {
  format: AttestationFormat;
  parsed: unknown;
  measurements: Record<string, unknown> & { mrenclave: string | null; mrsigner: string | null };
} {
  const measurements: Record<string, unknown> = {};
  let format: AttestationFormat = "text";
  let parsed: unknown = null;
  const trimmed = data.trim();
  if (trimmed === "") format = "none";
  else if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      parsed = JSON.parse(trimmed);
      format = "json";
      findMeasurements(parsed, measurements);
    } catch {
      format = "text";
    }
  } else if (/^0x[0-9a-fA-F]*$/.test(trimmed)) format = "hex";
  else if (/^[A-Za-z0-9+/=_-]{16,}$/.test(trimmed) && trimmed.length % 4 === 0) format = "base64";
  const str = (v: unknown) => (v === undefined ? null : String(v));
  return {
    format,
    parsed,
    measurements: { ...measurements, mrenclave: str(measurements.mrenclave), mrsigner: str(measurements.mrsigner) },
  };
}

export function attestationView(p: Provider) {
  const { format, parsed, measurements } = parseAttestation(p.attestation);
  const matches = attestationMatches(p);
  return {
    provider: providerId(p.address),
    address: getAddress(p.address),
    tee: { type: p.hardware.teeType, name: teeTypeLabel(p.hardware.teeType), enabled: p.hardware.teeType !== "None" },
    verified: teeVerified(p),
    verification: {
      /** What `verified` checked: the published report hashes to the commitment stored on-chain at registration. */
      method: "onchain-commitment",
      attestationHash: p.attestationHash,
      computedHash: keccak256(toBytes(p.attestation)),
      hashMatches: matches,
      /** Vendor quote verification (Intel/AMD/NVIDIA roots) is not performed by the node. */
      quoteVerified: false,
    },
    report: { format, data: p.attestation === "" ? null : p.attestation, parsed },
    measurements: format === "json" ? measurements : { mrenclave: null, mrsigner: null },
  };
}
