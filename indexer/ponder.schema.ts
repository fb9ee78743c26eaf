/**
 * Indexed state of the Compute protocol, built only from ComputeRegistry and ComputeRental events.
 *
 * Conventions: addresses are lowercase hex (Ponder's `hex` columns); amounts and chain timestamps are
 * `bigint` (wei / token units / unix seconds); counters that can never exceed 2^31 are `integer`.
 */
import { index, onchainEnum, onchainTable, primaryKey, relations } from "ponder";

/** The registry's `TeeType` enum, same names and order (GraphQL enum values cannot contain dashes). */
export const teeType = onchainEnum("tee_type", ["None", "IntelSGX", "IntelTDX", "AmdSevSnp", "NvidiaCC"]);

/** The rental's `SessionStatus` without `None` (a session row exists only once created). */
export const sessionStatus = onchainEnum("session_status", ["pending", "active", "ended", "rejected", "cancelled"]);

export const provider = onchainTable(
  "provider",
  (t) => ({
    /** The provider's address, lowercase. */
    id: t.hex().primaryKey(),
    endpoint: t.text().notNull(),
    /** The attestation data as given to `register` / `updateAttestation` (only its hash is on-chain). */
    attestation: t.text().notNull(),
    attestationHash: t.hex().notNull(),
    /** Bonded (slashable) stake, wei. */
    stake: t.bigint().notNull(),
    /** Stake requested for withdrawal, still slashable; withdrawable from `unstakeUnlockTime`. */
    pendingUnstake: t.bigint().notNull(),
    unstakeUnlockTime: t.bigint().notNull(),
    /** Native price, wei per GPU-hour (0: no native payment). Per-token prices: `provider_token_price`. */
    pricePerHour: t.bigint().notNull(),
    active: t.boolean().notNull(),
    lastHeartbeat: t.bigint().notNull(),
    // Hardware (HardwareUpdated replaces all of it).
    gpuModel: t.text().notNull(),
    gpuCount: t.integer().notNull(),
    vramGb: t.integer().notNull(),
    cpuCores: t.integer().notNull(),
    memoryGb: t.integer().notNull(),
    storageGb: t.integer().notNull(),
    teeType: teeType("tee_type").notNull(),
    /** Limit on open rentals, 0 = none. */
    maxConcurrentRentals: t.integer().notNull(),
    /** Open (pending or active) sessions, from session events. */
    activeRentals: t.integer().notNull(),
    /** GPUs reserved by open sessions, from session events. */
    gpusInUse: t.integer().notNull(),
    /** Sessions ever created with this provider. */
    totalSessions: t.integer().notNull(),
    strikes: t.integer().notNull(),
    totalSlashed: t.bigint().notNull(),
    registeredAt: t.bigint().notNull(),
    registeredBlock: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({
    activeIdx: index().on(table.active),
    priceIdx: index().on(table.pricePerHour),
  }),
);

/** Models a provider serves, with per-token prices (x402 inference payments, in USDC units). */
export const providerModel = onchainTable(
  "provider_model",
  (t) => ({
    provider: t.hex().notNull(),
    name: t.text().notNull(),
    inputPricePerToken: t.bigint().notNull(),
    outputPricePerToken: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({
    pk: primaryKey({ columns: [table.provider, table.name] }),
    nameIdx: index().on(table.name),
  }),
);

/** Hourly prices per GPU by payment token; `token = 0x0…0` is the native price. Price 0 rows are deleted. */
export const providerTokenPrice = onchainTable(
  "provider_token_price",
  (t) => ({
    provider: t.hex().notNull(),
    token: t.hex().notNull(),
    pricePerHour: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({
    pk: primaryKey({ columns: [table.provider, table.token] }),
    tokenPriceIdx: index().on(table.token, table.pricePerHour),
  }),
);

export const session = onchainTable(
  "session",
  (t) => ({
    /** The rental contract's session id. */
    id: t.bigint().primaryKey(),
    renter: t.hex().notNull(),
    provider: t.hex().notNull(),
    /** Payment token, 0x0…0 for ETH. */
    token: t.hex().notNull(),
    ratePerHour: t.bigint().notNull(),
    gpuCount: t.integer().notNull(),
    durationHours: t.bigint().notNull(),
    prepaid: t.bigint().notNull(),
    sshPublicKey: t.text().notNull(),
    status: sessionStatus("status").notNull(),
    createdAt: t.bigint().notNull(),
    createdBlock: t.bigint().notNull(),
    createdTx: t.hex().notNull(),
    /** Activation (billing start), null until activated. */
    startedAt: t.bigint(),
    expiresAt: t.bigint(),
    endedAt: t.bigint(),
    /** Connection info from `activateSession`, e.g. JSON `{"host","port","username"}`. */
    connection: t.text(),
    endedBy: t.hex(),
    usedSeconds: t.bigint(),
    refund: t.bigint(),
    providerPayout: t.bigint(),
    fee: t.bigint(),
    /** Rejection reason (rejected sessions). */
    reason: t.text(),
    /** Stake slashed from the provider to the renter (cancelled sessions). */
    slashed: t.bigint(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({
    renterIdx: index().on(table.renter),
    providerIdx: index().on(table.provider),
    statusIdx: index().on(table.status),
  }),
);

/** Every `SessionExtended`. */
export const sessionExtension = onchainTable(
  "session_extension",
  (t) => ({
    /** Ponder event id. */
    id: t.text().primaryKey(),
    sessionId: t.bigint().notNull(),
    addedHours: t.bigint().notNull(),
    addedPrepaid: t.bigint().notNull(),
    newDurationHours: t.bigint().notNull(),
    newPrepaid: t.bigint().notNull(),
    newExpiresAt: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ sessionIdx: index().on(table.sessionId) }),
);

/** Every `ProviderSlashed` (including strike-only slashes of 0 wei). */
export const slash = onchainTable(
  "slash",
  (t) => ({
    id: t.text().primaryKey(),
    provider: t.hex().notNull(),
    amount: t.bigint().notNull(),
    reason: t.text().notNull(),
    evidenceHash: t.hex().notNull(),
    beneficiary: t.hex().notNull(),
    reporter: t.hex().notNull(),
    reporterReward: t.bigint().notNull(),
    remainingStake: t.bigint().notNull(),
    remainingPendingUnstake: t.bigint().notNull(),
    strikes: t.integer().notNull(),
    timestamp: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ providerIdx: index().on(table.provider) }),
);

/** Stake movements: added, unstake requested, withdrawn. */
export const stakeEvent = onchainTable(
  "stake_event",
  (t) => ({
    id: t.text().primaryKey(),
    provider: t.hex().notNull(),
    kind: t.text().$type<"registered" | "added" | "unstake_requested" | "withdrawn">().notNull(),
    amount: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ providerIdx: index().on(table.provider) }),
);

/** Pull payments out of either contract (`Withdrawn`): slashing proceeds (registry, ETH) and credits (rental). */
export const withdrawal = onchainTable(
  "withdrawal",
  (t) => ({
    id: t.text().primaryKey(),
    contract: t.text().$type<"registry" | "rental">().notNull(),
    account: t.hex().notNull(),
    token: t.hex().notNull(),
    amount: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ accountIdx: index().on(table.account) }),
);

/** Protocol-wide counters; a single row with id "global". */
export const stats = onchainTable("stats", (t) => ({
  id: t.text().primaryKey(),
  providers: t.integer().notNull(),
  activeProviders: t.integer().notNull(),
  sessions: t.integer().notNull(),
  /** Open sessions: pending or active. */
  activeSessions: t.integer().notNull(),
  endedSessions: t.integer().notNull(),
  rejectedSessions: t.integer().notNull(),
  cancelledSessions: t.integer().notNull(),
  totalStaked: t.bigint().notNull(),
  totalSlashed: t.bigint().notNull(),
  slashes: t.integer().notNull(),
  updatedAt: t.bigint().notNull(),
}));

/** Per payment token volumes (token 0x0…0 = ETH). */
export const tokenStats = onchainTable("token_stats", (t) => ({
  id: t.hex().primaryKey(),
  sessions: t.integer().notNull(),
  /** Escrowed ever: prepaid at creation plus extensions. */
  volume: t.bigint().notNull(),
  refunds: t.bigint().notNull(),
  providerPayouts: t.bigint().notNull(),
  fees: t.bigint().notNull(),
  withdrawn: t.bigint().notNull(),
}));

/** Governance parameters of both contracts; a single row with id "global". */
export const protocol = onchainTable("protocol", (t) => ({
  id: t.text().primaryKey(),
  minStake: t.bigint(),
  unbondingPeriod: t.bigint(),
  registryTreasury: t.hex(),
  downtimeSlashAmount: t.bigint(),
  reporterRewardBps: t.bigint(),
  rentalTreasury: t.hex(),
  feeBps: t.bigint(),
  provisionTimeout: t.bigint(),
  cancelSlashAmount: t.bigint(),
  authorizationToken: t.hex(),
}));

/** ERC-20 payment tokens governance allowed or disallowed. */
export const paymentToken = onchainTable("payment_token", (t) => ({
  id: t.hex().primaryKey(),
  allowed: t.boolean().notNull(),
  updatedAt: t.bigint().notNull(),
}));

// Relations to a provider are named `providerInfo`: a relation named like its column (`provider`) would hide the
// address column in GraphQL.
export const providerRelations = relations(provider, ({ many }) => ({
  models: many(providerModel),
  tokenPrices: many(providerTokenPrice),
  sessions: many(session),
  slashes: many(slash),
}));

export const providerModelRelations = relations(providerModel, ({ one }) => ({
  providerInfo: one(provider, { fields: [providerModel.provider], references: [provider.id] }),
}));

export const providerTokenPriceRelations = relations(providerTokenPrice, ({ one }) => ({
  providerInfo: one(provider, { fields: [providerTokenPrice.provider], references: [provider.id] }),
}));

export const sessionRelations = relations(session, ({ one, many }) => ({
  providerInfo: one(provider, { fields: [session.provider], references: [provider.id] }),
  extensions: many(sessionExtension),
}));

export const sessionExtensionRelations = relations(sessionExtension, ({ one }) => ({
  session: one(session, { fields: [sessionExtension.sessionId], references: [session.id] }),
}));

export const slashRelations = relations(slash, ({ one }) => ({
  providerInfo: one(provider, { fields: [slash.provider], references: [provider.id] }),
}));
