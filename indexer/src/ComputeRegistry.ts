/**
 * ComputeRegistry handlers: provider lifecycle, hardware, models, prices, stake, slashing, governance.
 * Capacity (active rentals, GPUs in use) is derived from ComputeRental's session events instead.
 */
import { ponder } from "ponder:registry";
import {
  paymentToken,
  provider,
  providerModel,
  providerTokenPrice,
  slash,
  stakeEvent,
  withdrawal,
} from "ponder:schema";
import { zeroAddress } from "viem";
import { lc, setProtocol, teeTypeName, updateStats } from "./shared.ts";

ponder.on("ComputeRegistry:ProviderRegistered", async ({ event, context }) => {
  const { provider: address, endpoint, attestation, attestationHash, pricePerHour, stake } = event.args;
  const id = lc(address);
  const ts = event.block.timestamp;
  await context.db.insert(provider).values({
    id,
    endpoint,
    attestation,
    attestationHash,
    stake,
    pendingUnstake: 0n,
    unstakeUnlockTime: 0n,
    pricePerHour,
    active: true,
    lastHeartbeat: ts,
    gpuModel: "",
    gpuCount: 0,
    vramGb: 0,
    cpuCores: 0,
    memoryGb: 0,
    storageGb: 0,
    teeType: "None",
    maxConcurrentRentals: 0,
    activeRentals: 0,
    gpusInUse: 0,
    totalSessions: 0,
    strikes: 0,
    totalSlashed: 0n,
    registeredAt: ts,
    registeredBlock: event.block.number,
    updatedAt: ts,
  });
  if (pricePerHour > 0n) {
    await context.db
      .insert(providerTokenPrice)
      .values({ provider: id, token: zeroAddress, pricePerHour, updatedAt: ts })
      .onConflictDoUpdate({ pricePerHour, updatedAt: ts });
  }
  await context.db.insert(stakeEvent).values({
    id: event.id,
    provider: id,
    kind: "registered",
    amount: stake,
    timestamp: ts,
    txHash: event.transaction.hash,
  });
  await updateStats(context, ts, (s) => ({
    providers: s.providers + 1,
    activeProviders: s.activeProviders + 1,
    totalStaked: s.totalStaked + stake,
  }));
});

ponder.on("ComputeRegistry:EndpointUpdated", async ({ event, context }) => {
  await context.db
    .update(provider, { id: lc(event.args.provider) })
    .set({ endpoint: event.args.endpoint, updatedAt: event.block.timestamp });
});

ponder.on("ComputeRegistry:AttestationUpdated", async ({ event, context }) => {
  await context.db.update(provider, { id: lc(event.args.provider) }).set({
    attestation: event.args.attestation,
    attestationHash: event.args.attestationHash,
    updatedAt: event.block.timestamp,
  });
});

ponder.on("ComputeRegistry:HardwareUpdated", async ({ event, context }) => {
  const a = event.args;
  await context.db.update(provider, { id: lc(a.provider) }).set({
    gpuModel: a.gpuModel,
    gpuCount: Number(a.gpuCount),
    vramGb: Number(a.vramGb),
    cpuCores: Number(a.cpuCores),
    memoryGb: Number(a.memoryGb),
    storageGb: Number(a.storageGb),
    teeType: teeTypeName(Number(a.teeType)),
    updatedAt: event.block.timestamp,
  });
});

ponder.on("ComputeRegistry:ModelSet", async ({ event, context }) => {
  const { provider: address, model, inputPricePerToken, outputPricePerToken } = event.args;
  const ts = event.block.timestamp;
  await context.db
    .insert(providerModel)
    .values({ provider: lc(address), name: model, inputPricePerToken, outputPricePerToken, updatedAt: ts })
    .onConflictDoUpdate({ inputPricePerToken, outputPricePerToken, updatedAt: ts });
});

ponder.on("ComputeRegistry:ModelRemoved", async ({ event, context }) => {
  await context.db.delete(providerModel, { provider: lc(event.args.provider), name: event.args.model });
});

ponder.on("ComputeRegistry:TokenPriceSet", async ({ event, context }) => {
  const { provider: address, token, pricePerHour } = event.args;
  const id = lc(address);
  const ts = event.block.timestamp;
  if (pricePerHour === 0n) {
    await context.db.delete(providerTokenPrice, { provider: id, token: lc(token) });
  } else {
    await context.db
      .insert(providerTokenPrice)
      .values({ provider: id, token: lc(token), pricePerHour, updatedAt: ts })
      .onConflictDoUpdate({ pricePerHour, updatedAt: ts });
  }
  if (token === zeroAddress) await context.db.update(provider, { id }).set({ pricePerHour, updatedAt: ts });
});

ponder.on("ComputeRegistry:CapacitySet", async ({ event, context }) => {
  await context.db.update(provider, { id: lc(event.args.provider) }).set({
    maxConcurrentRentals: Number(event.args.maxConcurrentRentals),
    updatedAt: event.block.timestamp,
  });
});

ponder.on("ComputeRegistry:Heartbeat", async ({ event, context }) => {
  await context.db
    .update(provider, { id: lc(event.args.provider) })
    .set({ lastHeartbeat: event.args.timestamp, updatedAt: event.block.timestamp });
});

ponder.on("ComputeRegistry:ProviderDeactivated", async ({ event, context }) => {
  const id = lc(event.args.provider);
  const row = await context.db.find(provider, { id });
  if (row === null || !row.active) return;
  await context.db.update(provider, { id }).set({ active: false, updatedAt: event.block.timestamp });
  await updateStats(context, event.block.timestamp, (s) => ({ activeProviders: s.activeProviders - 1 }));
});

ponder.on("ComputeRegistry:ProviderReactivated", async ({ event, context }) => {
  const id = lc(event.args.provider);
  const row = await context.db.find(provider, { id });
  if (row === null) return;
  await context.db
    .update(provider, { id })
    .set({ active: true, lastHeartbeat: event.args.timestamp, updatedAt: event.block.timestamp });
  if (!row.active) {
    await updateStats(context, event.block.timestamp, (s) => ({ activeProviders: s.activeProviders + 1 }));
  }
});

ponder.on("ComputeRegistry:StakeAdded", async ({ event, context }) => {
  const { provider: address, amount, newStake } = event.args;
  const ts = event.block.timestamp;
  await context.db.update(provider, { id: lc(address) }).set({ stake: newStake, updatedAt: ts });
  await context.db.insert(stakeEvent).values({
    id: event.id,
    provider: lc(address),
    kind: "added",
    amount,
    timestamp: ts,
    txHash: event.transaction.hash,
  });
  await updateStats(context, ts, (s) => ({ totalStaked: s.totalStaked + amount }));
});

ponder.on("ComputeRegistry:UnstakeRequested", async ({ event, context }) => {
  const { provider: address, amount, remainingStake, pendingUnstake, unlockTime } = event.args;
  const ts = event.block.timestamp;
  await context.db
    .update(provider, { id: lc(address) })
    .set({ stake: remainingStake, pendingUnstake, unstakeUnlockTime: unlockTime, updatedAt: ts });
  await context.db.insert(stakeEvent).values({
    id: event.id,
    provider: lc(address),
    kind: "unstake_requested",
    amount,
    timestamp: ts,
    txHash: event.transaction.hash,
  });
  await updateStats(context, ts, (s) => ({ totalStaked: s.totalStaked - amount }));
});

ponder.on("ComputeRegistry:StakeWithdrawn", async ({ event, context }) => {
  const { provider: address, amount } = event.args;
  const ts = event.block.timestamp;
  await context.db
    .update(provider, { id: lc(address) })
    .set({ pendingUnstake: 0n, unstakeUnlockTime: 0n, updatedAt: ts });
  await context.db.insert(stakeEvent).values({
    id: event.id,
    provider: lc(address),
    kind: "withdrawn",
    amount,
    timestamp: ts,
    txHash: event.transaction.hash,
  });
});

ponder.on("ComputeRegistry:ProviderSlashed", async ({ event, context }) => {
  const a = event.args;
  const id = lc(a.provider);
  const ts = event.block.timestamp;
  const before = await context.db.find(provider, { id });
  await context.db.insert(slash).values({
    id: event.id,
    provider: id,
    amount: a.amount,
    reason: a.reason,
    evidenceHash: a.evidenceHash,
    beneficiary: lc(a.beneficiary),
    reporter: lc(a.reporter),
    reporterReward: a.reporterReward,
    remainingStake: a.remainingStake,
    remainingPendingUnstake: a.remainingPendingUnstake,
    strikes: Number(a.strikes),
    timestamp: ts,
    blockNumber: event.block.number,
    txHash: event.transaction.hash,
  });
  await context.db.update(provider, { id }).set((row) => ({
    stake: a.remainingStake,
    pendingUnstake: a.remainingPendingUnstake,
    unstakeUnlockTime: a.remainingPendingUnstake === 0n ? 0n : row.unstakeUnlockTime,
    strikes: Number(a.strikes),
    totalSlashed: row.totalSlashed + a.amount,
    updatedAt: ts,
  }));
  const bondedTaken = before === null ? 0n : before.stake - a.remainingStake;
  await updateStats(context, ts, (s) => ({
    totalSlashed: s.totalSlashed + a.amount,
    slashes: s.slashes + 1,
    totalStaked: s.totalStaked - bondedTaken,
  }));
});

ponder.on("ComputeRegistry:Withdrawn", async ({ event, context }) => {
  await context.db.insert(withdrawal).values({
    id: event.id,
    contract: "registry",
    account: lc(event.args.account),
    token: zeroAddress,
    amount: event.args.amount,
    timestamp: event.block.timestamp,
    txHash: event.transaction.hash,
  });
});

// Governance -------------------------------------------------------------------------------------------------

ponder.on("ComputeRegistry:PaymentTokenAllowed", async ({ event, context }) => {
  const ts = event.block.timestamp;
  await context.db
    .insert(paymentToken)
    .values({ id: lc(event.args.token), allowed: event.args.allowed, updatedAt: ts })
    .onConflictDoUpdate({ allowed: event.args.allowed, updatedAt: ts });
});

ponder.on("ComputeRegistry:MinStakeSet", async ({ event, context }) => {
  await setProtocol(context, { minStake: event.args.minStake });
});

ponder.on("ComputeRegistry:UnbondingPeriodSet", async ({ event, context }) => {
  await setProtocol(context, { unbondingPeriod: event.args.unbondingPeriod });
});

ponder.on("ComputeRegistry:TreasurySet", async ({ event, context }) => {
  await setProtocol(context, { registryTreasury: lc(event.args.treasury) });
});

ponder.on("ComputeRegistry:DowntimeSlashSet", async ({ event, context }) => {
  await setProtocol(context, {
    downtimeSlashAmount: event.args.amount,
    reporterRewardBps: event.args.reporterRewardBps,
  });
});
