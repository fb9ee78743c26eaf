/**
 * Rows → REST JSON (bigints as decimal strings), typed by the SDK's wire shapes.
 */
import type {
  ProviderJson,
  ProviderModelJson,
  SessionJson,
  StatsJson,
  TeeType,
  TokenPriceJson,
  TokenStatsJson,
} from "@jeju/compute-sdk/indexer/types";
import { getAddress } from "viem";

const s = (v: bigint): string => v.toString();
const sn = (v: bigint | null): string | null => (v === null ? null : v.toString());

type ProviderRow = {
  id: `0x${string}`;
  endpoint: string;
  attestation: string;
  attestationHash: `0x${string}`;
  stake: bigint;
  pendingUnstake: bigint;
  unstakeUnlockTime: bigint;
  pricePerHour: bigint;
  active: boolean;
  lastHeartbeat: bigint;
  gpuModel: string;
  gpuCount: number;
  vramGb: number;
  cpuCores: number;
  memoryGb: number;
  storageGb: number;
  teeType: TeeType;
  maxConcurrentRentals: number;
  activeRentals: number;
  gpusInUse: number;
  totalSessions: number;
  strikes: number;
  totalSlashed: bigint;
  registeredAt: bigint;
  registeredBlock: bigint;
  updatedAt: bigint;
};

type ModelRow = { name: string; inputPricePerToken: bigint; outputPricePerToken: bigint };
type TokenPriceRow = { token: `0x${string}`; pricePerHour: bigint };

export function providerJson(p: ProviderRow, models: ModelRow[], prices: TokenPriceRow[]): ProviderJson {
  return {
    id: p.id,
    address: getAddress(p.id),
    endpoint: p.endpoint,
    attestation: p.attestation,
    attestationHash: p.attestationHash,
    stake: s(p.stake),
    pendingUnstake: s(p.pendingUnstake),
    unstakeUnlockTime: s(p.unstakeUnlockTime),
    pricePerHour: s(p.pricePerHour),
    active: p.active,
    lastHeartbeat: s(p.lastHeartbeat),
    hardware: {
      gpuModel: p.gpuModel,
      gpuCount: p.gpuCount,
      vramGb: p.vramGb,
      cpuCores: p.cpuCores,
      memoryGb: p.memoryGb,
      storageGb: p.storageGb,
      teeType: p.teeType,
    },
    maxConcurrentRentals: p.maxConcurrentRentals,
    activeRentals: p.activeRentals,
    gpusInUse: p.gpusInUse,
    gpusAvailable: Math.max(0, p.gpuCount - p.gpusInUse),
    totalSessions: p.totalSessions,
    strikes: p.strikes,
    totalSlashed: s(p.totalSlashed),
    registeredAt: s(p.registeredAt),
    registeredBlock: s(p.registeredBlock),
    updatedAt: s(p.updatedAt),
    models: models
      .map(
        (m): ProviderModelJson => ({
          name: m.name,
          inputPricePerToken: s(m.inputPricePerToken),
          outputPricePerToken: s(m.outputPricePerToken),
        }),
      )
      .sort((a, b) => a.name.localeCompare(b.name)),
    tokenPrices: prices
      .map((t): TokenPriceJson => ({ token: t.token, pricePerHour: s(t.pricePerHour) }))
      .sort((a, b) => a.token.localeCompare(b.token)),
  };
}

type SessionRow = {
  id: bigint;
  renter: `0x${string}`;
  provider: `0x${string}`;
  token: `0x${string}`;
  ratePerHour: bigint;
  gpuCount: number;
  durationHours: bigint;
  prepaid: bigint;
  sshPublicKey: string;
  status: SessionJson["status"];
  createdAt: bigint;
  createdBlock: bigint;
  createdTx: `0x${string}`;
  startedAt: bigint | null;
  expiresAt: bigint | null;
  endedAt: bigint | null;
  connection: string | null;
  endedBy: `0x${string}` | null;
  usedSeconds: bigint | null;
  refund: bigint | null;
  providerPayout: bigint | null;
  fee: bigint | null;
  reason: string | null;
  slashed: bigint | null;
  updatedAt: bigint;
};

export function sessionJson(r: SessionRow): SessionJson {
  return {
    id: s(r.id),
    renter: r.renter,
    provider: r.provider,
    token: r.token,
    ratePerHour: s(r.ratePerHour),
    gpuCount: r.gpuCount,
    durationHours: s(r.durationHours),
    prepaid: s(r.prepaid),
    sshPublicKey: r.sshPublicKey,
    status: r.status,
    createdAt: s(r.createdAt),
    createdBlock: s(r.createdBlock),
    createdTx: r.createdTx,
    startedAt: sn(r.startedAt),
    expiresAt: sn(r.expiresAt),
    endedAt: sn(r.endedAt),
    connection: r.connection,
    endedBy: r.endedBy,
    usedSeconds: sn(r.usedSeconds),
    refund: sn(r.refund),
    providerPayout: sn(r.providerPayout),
    fee: sn(r.fee),
    reason: r.reason,
    slashed: sn(r.slashed),
    updatedAt: s(r.updatedAt),
  };
}

type StatsRow = Omit<StatsJson, "totalStaked" | "totalSlashed" | "updatedAt" | "tokens"> & {
  totalStaked: bigint;
  totalSlashed: bigint;
  updatedAt: bigint;
};
type TokenStatsRow = {
  id: `0x${string}`;
  sessions: number;
  volume: bigint;
  refunds: bigint;
  providerPayouts: bigint;
  fees: bigint;
  withdrawn: bigint;
};

export function statsJson(row: StatsRow | undefined, tokens: TokenStatsRow[]): StatsJson {
  return {
    providers: row?.providers ?? 0,
    activeProviders: row?.activeProviders ?? 0,
    sessions: row?.sessions ?? 0,
    activeSessions: row?.activeSessions ?? 0,
    endedSessions: row?.endedSessions ?? 0,
    rejectedSessions: row?.rejectedSessions ?? 0,
    cancelledSessions: row?.cancelledSessions ?? 0,
    totalStaked: s(row?.totalStaked ?? 0n),
    totalSlashed: s(row?.totalSlashed ?? 0n),
    slashes: row?.slashes ?? 0,
    updatedAt: row === undefined ? null : s(row.updatedAt),
    tokens: tokens
      .map(
        (t): TokenStatsJson => ({
          token: t.id,
          sessions: t.sessions,
          volume: s(t.volume),
          refunds: s(t.refunds),
          providerPayouts: s(t.providerPayouts),
          fees: s(t.fees),
          withdrawn: s(t.withdrawn),
        }),
      )
      .sort((a, b) => a.token.localeCompare(b.token)),
  };
}
