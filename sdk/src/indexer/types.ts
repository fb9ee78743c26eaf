/**
 * Shapes served by the indexer's REST API (`indexer/src/api`), on the wire (`*Json`: bigints as decimal
 * strings) and as the typed client returns them (bigints parsed back).
 */
import type { Address, Hex } from "viem";

/** The registry's `TeeType` enum names, in on-chain order. */
export const TEE_TYPES = ["None", "IntelSGX", "IntelTDX", "AmdSevSnp", "NvidiaCC"] as const;
export type TeeType = (typeof TEE_TYPES)[number];

export const SESSION_STATUSES = ["pending", "active", "ended", "rejected", "cancelled"] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** Decimal string of a bigint on the wire. */
export type BigIntString = string;

export type ProviderModelJson = {
  name: string;
  inputPricePerToken: BigIntString;
  outputPricePerToken: BigIntString;
};

export type TokenPriceJson = {
  /** Lowercase; 0x0…0 is the native token (ETH). */
  token: Hex;
  pricePerHour: BigIntString;
};

export type HardwareJson = {
  gpuModel: string;
  gpuCount: number;
  vramGb: number;
  cpuCores: number;
  memoryGb: number;
  storageGb: number;
  teeType: TeeType;
};

export type ProviderJson = {
  /** Lowercase address. */
  id: Hex;
  /** Checksummed address. */
  address: Address;
  endpoint: string;
  attestation: string;
  attestationHash: Hex;
  stake: BigIntString;
  pendingUnstake: BigIntString;
  unstakeUnlockTime: BigIntString;
  /** Native price, wei per GPU-hour. */
  pricePerHour: BigIntString;
  active: boolean;
  lastHeartbeat: BigIntString;
  hardware: HardwareJson;
  maxConcurrentRentals: number;
  activeRentals: number;
  gpusInUse: number;
  gpusAvailable: number;
  totalSessions: number;
  strikes: number;
  totalSlashed: BigIntString;
  registeredAt: BigIntString;
  registeredBlock: BigIntString;
  updatedAt: BigIntString;
  models: ProviderModelJson[];
  tokenPrices: TokenPriceJson[];
};

export type SessionJson = {
  id: BigIntString;
  renter: Hex;
  provider: Hex;
  token: Hex;
  ratePerHour: BigIntString;
  gpuCount: number;
  durationHours: BigIntString;
  prepaid: BigIntString;
  sshPublicKey: string;
  status: SessionStatus;
  createdAt: BigIntString;
  createdBlock: BigIntString;
  createdTx: Hex;
  startedAt: BigIntString | null;
  expiresAt: BigIntString | null;
  endedAt: BigIntString | null;
  connection: string | null;
  endedBy: Hex | null;
  usedSeconds: BigIntString | null;
  refund: BigIntString | null;
  providerPayout: BigIntString | null;
  fee: BigIntString | null;
  reason: string | null;
  slashed: BigIntString | null;
  updatedAt: BigIntString;
};

export type TokenStatsJson = {
  token: Hex;
  sessions: number;
  volume: BigIntString;
  refunds: BigIntString;
  providerPayouts: BigIntString;
  fees: BigIntString;
  withdrawn: BigIntString;
};

export type StatsJson = {
  providers: number;
  activeProviders: number;
  sessions: number;
  activeSessions: number;
  endedSessions: number;
  rejectedSessions: number;
  cancelledSessions: number;
  totalStaked: BigIntString;
  totalSlashed: BigIntString;
  slashes: number;
  updatedAt: BigIntString | null;
  tokens: TokenStatsJson[];
};

export type ProviderListJson = { providers: ProviderJson[]; limit: number; offset: number };
export type SessionListJson = { sessions: SessionJson[]; limit: number; offset: number };

/** Filters of `GET /providers`. */
export type ProviderFilters = {
  /** Serves this model. */
  model?: string;
  /** At least this many GPUs in total. */
  minGpus?: number;
  /** At least this many GPUs free now. */
  minAvailableGpus?: number;
  /** A TEE type name or alias ("tdx", "sev-snp", "nvidia-cc", "sgx", "none"), or "any" for any TEE. */
  tee?: TeeType | string;
  /** Price per GPU-hour in `token` at most this (providers not accepting `token` are left out). */
  maxPrice?: bigint | string;
  /** Price token: an address, "native"/"eth" or "usdc" (the indexer knows USDC from its deployments). */
  token?: string;
  /** Only providers accepting new rentals. */
  active?: boolean;
  /** Sort by the price in `token` (default native). */
  sort?: "price_asc" | "price_desc";
  limit?: number;
  offset?: number;
};

export type SessionFilters = {
  renter?: string;
  provider?: string;
  status?: SessionStatus;
  limit?: number;
  offset?: number;
};

// Parsed shapes (what the typed client returns) -------------------------------------------------------------

type Big<T, K extends keyof T> = Omit<T, K> & { [P in K]: null extends T[P] ? bigint | null : bigint };

export type ProviderModel = Big<ProviderModelJson, "inputPricePerToken" | "outputPricePerToken">;
export type TokenPrice = Big<TokenPriceJson, "pricePerHour">;
export type Provider = Omit<
  Big<
    ProviderJson,
    | "stake"
    | "pendingUnstake"
    | "unstakeUnlockTime"
    | "pricePerHour"
    | "lastHeartbeat"
    | "totalSlashed"
    | "registeredAt"
    | "registeredBlock"
    | "updatedAt"
  >,
  "models" | "tokenPrices"
> & { models: ProviderModel[]; tokenPrices: TokenPrice[] };

export type Session = Big<
  SessionJson,
  | "id"
  | "ratePerHour"
  | "durationHours"
  | "prepaid"
  | "createdAt"
  | "createdBlock"
  | "startedAt"
  | "expiresAt"
  | "endedAt"
  | "usedSeconds"
  | "refund"
  | "providerPayout"
  | "fee"
  | "slashed"
  | "updatedAt"
>;

export type TokenStats = Big<TokenStatsJson, "volume" | "refunds" | "providerPayouts" | "fees" | "withdrawn">;
export type Stats = Omit<Big<StatsJson, "totalStaked" | "totalSlashed" | "updatedAt">, "tokens"> & {
  tokens: TokenStats[];
};

/** The error body of every non-2xx answer (the OpenAI error shape used across Compute). */
export type ErrorJson = { error: { message: string; type: string; param: string | null; code: string } };
