/**
 * Helpers shared by the handlers (no `ponder.on` here). Rows are keyed by lowercase addresses.
 */
import type { Context } from "ponder:registry";
import { protocol, stats, tokenStats } from "ponder:schema";
import type { Address, Hex } from "viem";

export const GLOBAL = "global";

export const lc = (a: Address | Hex): `0x${string}` => a.toLowerCase() as `0x${string}`;

/** The registry's `TeeType` enum in order. */
export const TEE_TYPES = ["None", "IntelSGX", "IntelTDX", "AmdSevSnp", "NvidiaCC"] as const;
export type TeeTypeName = (typeof TEE_TYPES)[number];
export const teeTypeName = (v: number): TeeTypeName => TEE_TYPES[v] ?? "None";

type StatsRow = typeof stats.$inferSelect;
type TokenStatsRow = typeof tokenStats.$inferSelect;

const EMPTY_STATS: Omit<StatsRow, "updatedAt"> = {
  id: GLOBAL,
  providers: 0,
  activeProviders: 0,
  sessions: 0,
  activeSessions: 0,
  endedSessions: 0,
  rejectedSessions: 0,
  cancelledSessions: 0,
  totalStaked: 0n,
  totalSlashed: 0n,
  slashes: 0,
};

/** Applies `patch` (computed from the current row) to the global stats row, creating it first if needed. */
export async function updateStats(
  context: Context,
  timestamp: bigint,
  patch: (s: StatsRow) => Partial<Omit<StatsRow, "id">>,
): Promise<void> {
  const current =
    (await context.db.find(stats, { id: GLOBAL })) ??
    (await context.db.insert(stats).values({ ...EMPTY_STATS, updatedAt: timestamp }));
  await context.db.update(stats, { id: GLOBAL }).set({ ...patch(current), updatedAt: timestamp });
}

/** Applies `patch` to the stats row of `token`, creating it first if needed. */
export async function updateTokenStats(
  context: Context,
  token: Address,
  patch: (s: TokenStatsRow) => Partial<Omit<TokenStatsRow, "id">>,
): Promise<void> {
  const id = lc(token);
  const current =
    (await context.db.find(tokenStats, { id })) ??
    (await context.db.insert(tokenStats).values({
      id,
      sessions: 0,
      volume: 0n,
      refunds: 0n,
      providerPayouts: 0n,
      fees: 0n,
      withdrawn: 0n,
    }));
  await context.db.update(tokenStats, { id }).set(patch(current));
}

/** Upserts governance parameters into the single `protocol` row. */
export async function setProtocol(
  context: Context,
  patch: Partial<Omit<typeof protocol.$inferInsert, "id">>,
): Promise<void> {
  await context.db
    .insert(protocol)
    .values({ id: GLOBAL, ...patch })
    .onConflictDoUpdate(patch);
}
