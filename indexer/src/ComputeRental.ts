/**
 * ComputeRental handlers: session lifecycle and money, plus the provider capacity it reserves and releases
 * (`activeRentals`, `gpusInUse`), per-token volumes and governance parameters.
 */
import { ponder } from "ponder:registry";
import { provider, session, sessionExtension, withdrawal } from "ponder:schema";
import { lc, setProtocol, updateStats, updateTokenStats } from "./shared.ts";
import type { Context } from "ponder:registry";

/** Frees the rental slot and GPUs an open session held. */
async function releaseCapacity(context: Context, providerId: `0x${string}`, gpuCount: number, ts: bigint) {
  await context.db.update(provider, { id: providerId }).set((p) => ({
    activeRentals: Math.max(0, p.activeRentals - 1),
    gpusInUse: Math.max(0, p.gpusInUse - gpuCount),
    updatedAt: ts,
  }));
}

ponder.on("ComputeRental:SessionCreated", async ({ event, context }) => {
  const a = event.args;
  const ts = event.block.timestamp;
  const providerId = lc(a.provider);
  const gpuCount = Number(a.gpuCount);
  await context.db.insert(session).values({
    id: a.sessionId,
    renter: lc(a.renter),
    provider: providerId,
    token: lc(a.token),
    ratePerHour: a.ratePerHour,
    gpuCount,
    durationHours: a.durationHours,
    prepaid: a.prepaid,
    sshPublicKey: a.sshPublicKey,
    status: "pending",
    createdAt: ts,
    createdBlock: event.block.number,
    createdTx: event.transaction.hash,
    updatedAt: ts,
  });
  await context.db.update(provider, { id: providerId }).set((p) => ({
    activeRentals: p.activeRentals + 1,
    gpusInUse: p.gpusInUse + gpuCount,
    totalSessions: p.totalSessions + 1,
    updatedAt: ts,
  }));
  await updateStats(context, ts, (s) => ({ sessions: s.sessions + 1, activeSessions: s.activeSessions + 1 }));
  await updateTokenStats(context, a.token, (t) => ({ sessions: t.sessions + 1, volume: t.volume + a.prepaid }));
});

ponder.on("ComputeRental:SessionActivated", async ({ event, context }) => {
  const a = event.args;
  await context.db.update(session, { id: a.sessionId }).set({
    status: "active",
    connection: a.connection,
    startedAt: BigInt(a.startedAt),
    expiresAt: BigInt(a.expiresAt),
    updatedAt: event.block.timestamp,
  });
});

ponder.on("ComputeRental:SessionRejected", async ({ event, context }) => {
  const a = event.args;
  const ts = event.block.timestamp;
  const row = await context.db.update(session, { id: a.sessionId }).set({
    status: "rejected",
    refund: a.refund,
    providerPayout: 0n,
    fee: 0n,
    usedSeconds: 0n,
    reason: a.reason,
    endedAt: ts,
    endedBy: lc(a.provider),
    updatedAt: ts,
  });
  await releaseCapacity(context, lc(a.provider), row.gpuCount, ts);
  await updateStats(context, ts, (s) => ({
    activeSessions: s.activeSessions - 1,
    rejectedSessions: s.rejectedSessions + 1,
  }));
  await updateTokenStats(context, a.token, (t) => ({ refunds: t.refunds + a.refund }));
});

ponder.on("ComputeRental:SessionCancelled", async ({ event, context }) => {
  const a = event.args;
  const ts = event.block.timestamp;
  const row = await context.db.update(session, { id: a.sessionId }).set({
    status: "cancelled",
    refund: a.refund,
    providerPayout: 0n,
    fee: 0n,
    usedSeconds: 0n,
    slashed: a.slashed,
    endedAt: ts,
    endedBy: lc(a.renter),
    updatedAt: ts,
  });
  await releaseCapacity(context, lc(a.provider), row.gpuCount, ts);
  await updateStats(context, ts, (s) => ({
    activeSessions: s.activeSessions - 1,
    cancelledSessions: s.cancelledSessions + 1,
  }));
  await updateTokenStats(context, a.token, (t) => ({ refunds: t.refunds + a.refund }));
});

ponder.on("ComputeRental:SessionExtended", async ({ event, context }) => {
  const a = event.args;
  const ts = event.block.timestamp;
  await context.db.update(session, { id: a.sessionId }).set({
    durationHours: a.newDurationHours,
    prepaid: a.newPrepaid,
    // 0 while the session is still pending (expiry is set at activation).
    ...(a.newExpiresAt === 0n ? {} : { expiresAt: BigInt(a.newExpiresAt) }),
    updatedAt: ts,
  });
  await context.db.insert(sessionExtension).values({
    id: event.id,
    sessionId: a.sessionId,
    addedHours: a.addedHours,
    addedPrepaid: a.addedPrepaid,
    newDurationHours: a.newDurationHours,
    newPrepaid: a.newPrepaid,
    newExpiresAt: BigInt(a.newExpiresAt),
    timestamp: ts,
    txHash: event.transaction.hash,
  });
  await updateTokenStats(context, a.token, (t) => ({ volume: t.volume + a.addedPrepaid }));
});

ponder.on("ComputeRental:SessionEnded", async ({ event, context }) => {
  const a = event.args;
  const ts = event.block.timestamp;
  const row = await context.db.update(session, { id: a.sessionId }).set({
    status: "ended",
    endedAt: ts,
    endedBy: lc(a.endedBy),
    usedSeconds: a.usedSeconds,
    refund: a.refund,
    providerPayout: a.providerPayout,
    fee: a.fee,
    updatedAt: ts,
  });
  await releaseCapacity(context, lc(a.provider), row.gpuCount, ts);
  await updateStats(context, ts, (s) => ({
    activeSessions: s.activeSessions - 1,
    endedSessions: s.endedSessions + 1,
  }));
  await updateTokenStats(context, a.token, (t) => ({
    refunds: t.refunds + a.refund,
    providerPayouts: t.providerPayouts + a.providerPayout,
    fees: t.fees + a.fee,
  }));
});

ponder.on("ComputeRental:Withdrawn", async ({ event, context }) => {
  const a = event.args;
  await context.db.insert(withdrawal).values({
    id: event.id,
    contract: "rental",
    account: lc(a.account),
    token: lc(a.token),
    amount: a.amount,
    timestamp: event.block.timestamp,
    txHash: event.transaction.hash,
  });
  await updateTokenStats(context, a.token, (t) => ({ withdrawn: t.withdrawn + a.amount }));
});

// Governance -------------------------------------------------------------------------------------------------

ponder.on("ComputeRental:FeeSet", async ({ event, context }) => {
  await setProtocol(context, { feeBps: event.args.feeBps });
});

ponder.on("ComputeRental:TreasurySet", async ({ event, context }) => {
  await setProtocol(context, { rentalTreasury: lc(event.args.treasury) });
});

ponder.on("ComputeRental:ProvisionTimeoutSet", async ({ event, context }) => {
  await setProtocol(context, { provisionTimeout: event.args.provisionTimeout });
});

ponder.on("ComputeRental:CancelSlashAmountSet", async ({ event, context }) => {
  await setProtocol(context, { cancelSlashAmount: event.args.cancelSlashAmount });
});

ponder.on("ComputeRental:AuthorizationTokenSet", async ({ event, context }) => {
  await setProtocol(context, { authorizationToken: lc(event.args.token) });
});
