/**
 * The rentals chain watcher: follows ComputeRental events for this provider and drives the RentalManager.
 *
 *   SessionCreated(provider = us)  → getSession (still Pending?) → manager.provision → activateSession(id,
 *                                    '{"host","port","username"}') → store.markActivatedOnChain
 *                                  → rejected (bad key, no capacity, no GPUs) → rejectSession(id, reason)
 *   SessionExtended                     → the session's expiry moves (store.setExpiresAt)
 *   SessionEnded / Cancelled / Rejected → manager.end (container removed, SSH revoked)
 *   expired (store.expiresAt ≤ now)      → endSession(id) on-chain (anyone may settle after expiry) → end
 *   every `withdrawIntervalMs`           → withdraw(token) for ETH and USDC when credits > 0
 *   every `revalidateIntervalMs`         → getSession for each running session; one the chain says is over is
 *                                          torn down (an RPC that drops a log must not keep a container alive)
 *
 * Exactly once: events are read with eth_getLogs in block ranges from the cursor persisted in the
 * SessionStore (`chain.cursor`, starting at deployments.startBlock); the cursor moves only after a range is
 * processed, and every handler is idempotent, so a crash (even kill -9) replays at most one range and the
 * store's state machine keeps a session to one container. Sessions the store holds but the chain has not
 * activated are re-driven every tick (`pendingChainActivation`, pending/provisioning after a Docker failure,
 * rejections not yet sent).
 *
 * Reorgs: the hash of the cursor block is stored with it; when the chain's block at that height differs, the
 * cursor rewinds `reorgDepth` blocks and every open session is re-validated with getSession. Activation always
 * re-reads getSession first, so a session whose creation was reorged out (status None) is torn down instead.
 */
import { computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  type Hex,
  isAddressEqual,
  type Log,
  pad,
  parseEventLogs,
  toEventSelector,
  toHex,
  zeroAddress,
} from "viem";
import type { ChainContext } from "../chain/context.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { RentalManager } from "./manager.ts";
import type { SessionRecord } from "./store.ts";

/** ComputeRental's SessionStatus enum. */
export const ChainSessionStatus = {
  None: 0,
  Pending: 1,
  Active: 2,
  Ended: 3,
  Rejected: 4,
  Cancelled: 5,
} as const;
export const CHAIN_STATUS_NAMES = ["none", "pending", "active", "ended", "rejected", "cancelled"] as const;

const WATCHED_EVENTS = [
  "SessionCreated",
  "SessionExtended",
  "SessionEnded",
  "SessionCancelled",
  "SessionRejected",
] as const;

export type RentalWatcherOptions = {
  ctx: ChainContext;
  manager: RentalManager;
  /** What renters are told to connect to (`hostKey`: the SSH server's public host key, `ssh-ed25519 AAAA…`). */
  ssh: { host: string; port: number; hostKey?: string };
  /** Blocks to wait before acting (default 0 on 31337, else 2). */
  confirmations?: number;
  /** Poll interval (ms; default 250 on 31337, else 4000). */
  pollIntervalMs?: number;
  /** Largest eth_getLogs range (default 2000 blocks). */
  blockRange?: bigint;
  /** How far the cursor rewinds when a reorg is detected (default 64 blocks). */
  reorgDepth?: bigint;
  /** How often earnings are withdrawn (ms; default 10 min; 0 disables). */
  withdrawIntervalMs?: number;
  /**
   * How often running sessions are checked against getSession, in case their end event was never seen
   * (ms; default 2000 on 31337, else 60000; 0 disables).
   */
  revalidateIntervalMs?: number;
  logger?: Logger;
};

const CURSOR_KEY = "chain.cursor";
const CURSOR_HASH_KEY = "chain.cursorHash";
const rejectSentKey = (id: string) => `rejectSent.${id}`;

type ChainSession = {
  renter: Address;
  provider: Address;
  token: Address;
  ratePerHour: bigint;
  gpuCount: bigint;
  durationHours: bigint;
  prepaid: bigint;
  createdAt: bigint;
  startedAt: bigint;
  expiresAt: bigint;
  endedAt: bigint;
  status: number;
};

export class RentalWatcher {
  private readonly opts: RentalWatcherOptions;
  private readonly log: Logger;
  private readonly provider: Address;
  private readonly rental: Address;
  private readonly confirmations: bigint;
  private readonly pollIntervalMs: number;
  private readonly blockRange: bigint;
  private readonly reorgDepth: bigint;
  private readonly withdrawIntervalMs: number;
  private readonly revalidateIntervalMs: number;
  private lastRevalidate = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastWithdraw = 0;
  private sendChain: Promise<unknown> = Promise.resolve();
  /** Session id → when we first saw its SessionCreated (ms), for progress logs. */
  private readonly seenAt = new Map<string, number>();
  /** Backoff for sessions whose provisioning/activation failed: id → next attempt (ms). */
  private readonly retryAt = new Map<string, number>();

  constructor(opts: RentalWatcherOptions) {
    const { ctx } = opts;
    if (!ctx.wallet || !ctx.provider) throw new Error("the rentals watcher needs PRIVATE_KEY (the provider's wallet)");
    this.opts = opts;
    this.provider = ctx.provider;
    this.rental = ctx.deployments.ComputeRental;
    const local = ctx.deployments.chainId === 31337;
    this.confirmations = BigInt(opts.confirmations ?? (local ? 0 : 2));
    this.pollIntervalMs = opts.pollIntervalMs ?? (local ? 250 : 4_000);
    this.blockRange = opts.blockRange ?? 2_000n;
    this.reorgDepth = opts.reorgDepth ?? 64n;
    this.withdrawIntervalMs = opts.withdrawIntervalMs ?? 600_000;
    this.revalidateIntervalMs = opts.revalidateIntervalMs ?? (local ? 2_000 : 60_000);
    this.log = (opts.logger ?? silentLogger).child({
      component: "rentals-watcher",
    });
  }

  private get store() {
    return this.opts.manager.store;
  }

  /** Reconciles containers with the store, re-drives unfinished sessions, then follows the chain. */
  async start(): Promise<void> {
    const t0 = performance.now();
    const rec = await this.opts.manager.reconcile();
    this.log.info(
      {
        ...rec,
        cursor: this.cursor().toString(),
        ms: Math.round(performance.now() - t0),
      },
      "rentals watcher starting",
    );
    await this.driveUnfinished(true);
    this.lastWithdraw = Date.now();
    this.lastRevalidate = Date.now();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => {});
    await this.sendChain.catch(() => {});
  }

  /** The last fully processed block. */
  cursor(): bigint {
    return this.store.getCursor(CURSOR_KEY) ?? BigInt(this.opts.ctx.deployments.startBlock) - 1n;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err) => this.log.warn({ err }, "rentals watcher tick failed (retrying)"))
        .finally(() => this.schedule(this.pollIntervalMs));
    }, ms);
  }

  /** One pass: follow new blocks, then retry unfinished work, settle expired sessions, withdraw. */
  async tick(): Promise<void> {
    await this.follow();
    await this.driveUnfinished(false);
    if (this.revalidateIntervalMs > 0 && Date.now() - this.lastRevalidate >= this.revalidateIntervalMs) {
      this.lastRevalidate = Date.now();
      await this.revalidateRunning();
    }
    await this.settleExpired();
    if (this.withdrawIntervalMs > 0 && Date.now() - this.lastWithdraw >= this.withdrawIntervalMs) {
      this.lastWithdraw = Date.now();
      await this.withdrawEarnings();
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // following the chain

  private async follow(): Promise<void> {
    const pc = this.opts.ctx.publicClient;
    await this.checkReorg();
    const head = await pc.getBlockNumber({ cacheTime: 0 });
    const target = head - this.confirmations;
    let from = this.cursor() + 1n;
    while (from <= target && !this.stopped) {
      const to = from + this.blockRange - 1n < target ? from + this.blockRange - 1n : target;
      const logs = await this.getLogs(from, to);
      for (const log of logs) await this.handle(log);
      const block = await pc.getBlock({ blockNumber: to });
      this.store.transaction(() => {
        this.store.setCursor(to, CURSOR_KEY);
        this.store.kvSet(CURSOR_HASH_KEY, block.hash);
      });
      from = to + 1n;
    }
  }

  private async checkReorg(): Promise<void> {
    const stored = this.store.kvGet(CURSOR_HASH_KEY);
    const cursor = this.cursor();
    if (stored === undefined || cursor < 0n) return;
    const block = await this.opts.ctx.publicClient.getBlock({ blockNumber: cursor }).catch(() => undefined);
    if (block && block.hash === stored) return;
    const start = BigInt(this.opts.ctx.deployments.startBlock) - 1n;
    const back = cursor - this.reorgDepth > start ? cursor - this.reorgDepth : start;
    this.log.warn(
      { cursor: cursor.toString(), rewindTo: back.toString() },
      "chain reorg detected: rewinding and re-validating open sessions",
    );
    this.store.transaction(() => {
      this.store.setCursor(back, CURSOR_KEY);
      this.store.kvSet(CURSOR_HASH_KEY, "");
    });
    for (const s of this.store.list({
      status: ["pending", "provisioning", "active"],
    }))
      await this.drive(s.id, "reorg check");
  }

  private async getLogs(from: bigint, to: bigint) {
    const topics = WATCHED_EVENTS.map((name) => {
      const item = computeRentalAbi.find((x) => x.type === "event" && x.name === name);
      if (!item) throw new Error(`ComputeRental ABI lacks ${name}`);
      return toEventSelector(item as never);
    });
    // All these events index (sessionId, renter, provider): topic 3 is the provider.
    const raw = (await this.opts.ctx.publicClient.request({
      method: "eth_getLogs",
      params: [
        {
          address: this.rental,
          fromBlock: toHex(from),
          toBlock: toHex(to),
          topics: [topics, null, null, pad(this.provider.toLowerCase() as Hex, { size: 32 })],
        },
      ],
    })) as unknown as Log[];
    const logs = raw.map((l) => ({
      ...l,
      blockNumber: l.blockNumber === null ? null : BigInt(l.blockNumber),
      logIndex: l.logIndex === null ? null : Number(l.logIndex),
    })) as Log[];
    return parseEventLogs({
      abi: computeRentalAbi,
      logs,
      eventName: [...WATCHED_EVENTS],
    });
  }

  private async handle(log: Awaited<ReturnType<RentalWatcher["getLogs"]>>[number]): Promise<void> {
    const id = log.args.sessionId.toString();
    if (!isAddressEqual(log.args.provider, this.provider)) return;
    switch (log.eventName) {
      case "SessionCreated": {
        const known = this.store.get(id);
        if (known && known.status !== "pending" && known.status !== "provisioning") return; // replay
        this.seenAt.set(id, Date.now());
        this.log.info(
          {
            sessionId: id,
            renter: log.args.renter,
            block: log.blockNumber?.toString(),
            tx: log.transactionHash,
          },
          "SessionCreated: provisioning",
        );
        this.store.insertPending({
          id,
          renter: log.args.renter,
          provider: log.args.provider,
          sshPublicKey: log.args.sshPublicKey,
          gpuCount: Number(log.args.gpuCount),
          createdBlock: log.blockNumber ?? null,
          createdTx: log.transactionHash ?? null,
        });
        await this.drive(id, "SessionCreated");
        return;
      }
      case "SessionExtended": {
        const rec = this.store.get(id);
        const expiresAt = Number(log.args.newExpiresAt);
        if (rec?.status !== "active" || expiresAt === 0) return; // not active yet: activation sets it
        this.store.setExpiresAt(id, expiresAt);
        this.log.info(
          { sessionId: id, addedHours: Number(log.args.addedHours), expiresAt, tx: log.transactionHash },
          "session extended",
        );
        return;
      }
      case "SessionEnded":
      case "SessionCancelled":
      case "SessionRejected": {
        const rec = this.store.get(id);
        if (!rec || rec.status === "ended" || (rec.status === "rejected" && log.eventName === "SessionRejected")) {
          if (rec?.status === "rejected") this.store.kvSet(rejectSentKey(id), log.transactionHash ?? "seen");
          return;
        }
        this.log.info(
          { sessionId: id, event: log.eventName, tx: log.transactionHash },
          "session over on-chain: tearing down",
        );
        const t0 = performance.now();
        await this.opts.manager.end(id, log.eventName);
        this.log.info({ sessionId: id, ms: Math.round(performance.now() - t0) }, "session torn down");
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // driving one session to where the chain says it should be

  private async readSession(id: string): Promise<ChainSession> {
    return (await this.opts.ctx.publicClient.readContract({
      address: this.rental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [BigInt(id)],
    })) as ChainSession;
  }

  /**
   * Brings the session here in line with the chain: provisions and activates a Pending one, tears down one
   * that is over or unknown (reorged out), records an activation it missed. Errors are logged and the session
   * is retried on a later tick (with backoff).
   */
  async drive(id: string, why: string): Promise<void> {
    try {
      await this.driveOnce(id);
      this.retryAt.delete(id);
    } catch (err) {
      const attempt = Date.now();
      this.retryAt.set(id, attempt + 2_000);
      this.log.warn({ sessionId: id, why, err: describe(err) }, "session step failed (will retry)");
    }
  }

  private async driveOnce(id: string): Promise<void> {
    const m = this.opts.manager;
    let rec = this.store.get(id);
    if (!rec) return;
    const chain = await this.readSession(id);
    if (chain.status === ChainSessionStatus.None) {
      this.log.warn({ sessionId: id }, "session unknown on-chain (reorged out): tearing down");
      await m.end(id, "reorged out");
      return;
    }
    if (!isAddressEqual(chain.provider, this.provider)) return;
    if (chain.status === ChainSessionStatus.Ended || chain.status === ChainSessionStatus.Cancelled) {
      if (rec.status !== "ended") await m.end(id, CHAIN_STATUS_NAMES[chain.status] ?? "over");
      return;
    }
    if (chain.status === ChainSessionStatus.Rejected) {
      this.store.kvSet(rejectSentKey(id), "seen");
      if (rec.status !== "rejected" && rec.status !== "ended") await m.end(id, "rejected");
      return;
    }
    if (chain.status === ChainSessionStatus.Active) {
      if (rec.status === "active" && rec.chainActivatedAt === null) {
        this.store.markActivatedOnChain(id, rec.activationTx ?? "unknown", Number(chain.expiresAt));
      } else if (rec.status === "pending" || rec.status === "provisioning" || rec.status === "active") {
        // Active on-chain but we never marked it (crash after the tx was mined): make sure it runs.
        const res = await m.provision({
          id,
          renter: rec.renter,
          provider: rec.provider,
          sshPublicKey: rec.sshPublicKey,
        });
        if (res.status === "active" && res.session.chainActivatedAt === null) {
          this.store.markActivatedOnChain(id, "unknown", Number(chain.expiresAt));
        }
      }
      return;
    }
    // Pending on-chain.
    if (rec.status === "rejected") {
      await this.sendReject(id, rec.reason ?? "rejected");
      return;
    }
    if (rec.status === "ended") return; // torn down here; the renter may cancel after the provision timeout
    const seen = this.seenAt.get(id) ?? Date.now();
    const t0 = performance.now();
    const res = await m.provision({
      id,
      renter: rec.renter,
      provider: rec.provider,
      sshPublicKey: rec.sshPublicKey,
      gpuCount: rec.gpuCount,
    });
    if (res.status === "rejected") {
      await this.sendReject(id, res.reason);
      return;
    }
    if (res.status === "ended") return;
    rec = res.session;
    this.log.info(
      {
        sessionId: id,
        container: rec.containerId?.slice(0, 12),
        created: res.created,
        containerMs: Math.round(performance.now() - t0),
      },
      "container ready: activating on-chain",
    );
    await this.activate(rec, seen);
  }

  private connection(rec: SessionRecord): string {
    // Published on-chain with activateSession: renters (`compute ssh`) and the relayer's SSH relay pin the host key.
    return JSON.stringify({
      host: this.opts.ssh.host,
      port: this.opts.ssh.port,
      username: rec.username,
      ...(this.opts.ssh.hostKey ? { hostKey: this.opts.ssh.hostKey } : {}),
    });
  }

  private async activate(rec: SessionRecord, seenAt: number): Promise<void> {
    const t0 = performance.now();
    let receipt: Awaited<ReturnType<RentalWatcher["send"]>>;
    try {
      receipt = await this.send("activateSession", [BigInt(rec.id), this.connection(rec)]);
    } catch (err) {
      // Lost a race (renter cancelled, or a previous run's tx was mined meanwhile): follow the chain's answer.
      const name = revertName(err);
      if (name === "SessionNotPending" || name === "SessionNotFound") {
        this.log.info({ sessionId: rec.id, revert: name }, "activateSession reverted: re-reading the session");
        const chain = await this.readSession(rec.id);
        if (chain.status === ChainSessionStatus.Active) {
          this.store.markActivatedOnChain(rec.id, "unknown", Number(chain.expiresAt));
        } else {
          await this.opts.manager.end(rec.id, `not activatable (${CHAIN_STATUS_NAMES[chain.status] ?? chain.status})`);
        }
        return;
      }
      throw err;
    }
    const [ev] = parseEventLogs({
      abi: computeRentalAbi,
      eventName: "SessionActivated",
      logs: receipt.logs,
    });
    const expiresAt = ev ? Number(ev.args.expiresAt) : undefined;
    this.store.markActivatedOnChain(rec.id, receipt.transactionHash, expiresAt);
    this.log.info(
      {
        sessionId: rec.id,
        tx: receipt.transactionHash,
        expiresAt,
        activateMs: Math.round(performance.now() - t0),
        totalMs: Date.now() - seenAt,
      },
      "session activated on-chain",
    );
  }

  private async sendReject(id: string, reason: string): Promise<void> {
    if (this.store.kvGet(rejectSentKey(id)) !== undefined) return;
    const short = reason.length > 200 ? `${reason.slice(0, 197)}...` : reason;
    try {
      const receipt = await this.send("rejectSession", [BigInt(id), short]);
      this.store.kvSet(rejectSentKey(id), receipt.transactionHash);
      this.log.info(
        { sessionId: id, reason: short, tx: receipt.transactionHash },
        "session rejected on-chain (renter refunded)",
      );
    } catch (err) {
      const name = revertName(err);
      if (name === "SessionNotPending" || name === "SessionNotFound") {
        this.store.kvSet(rejectSentKey(id), name);
        return;
      }
      throw err;
    }
  }

  /** Re-drives sessions left half-way: active without activation mined, pending/provisioning, unsent rejects. */
  private async driveUnfinished(force: boolean): Promise<void> {
    const now = Date.now();
    const todo = [
      ...this.opts.manager.pendingChainActivation(),
      ...this.store.list({ status: ["pending", "provisioning"] }),
      ...this.store.list({ status: "rejected" }).filter((s) => this.store.kvGet(rejectSentKey(s.id)) === undefined),
    ];
    for (const s of todo) {
      if (this.stopped) return;
      if (!force && (this.retryAt.get(s.id) ?? 0) > now) continue;
      await this.drive(s.id, force ? "start-up" : "retry");
    }
  }

  /**
   * The safety net under event following: every running session must still be Active on-chain. One that is
   * over there (its SessionEnded/Cancelled missed, e.g. an RPC node behind a load balancer answered eth_getLogs
   * from a replica that had not seen the block) is driven to the chain's state, which tears it down.
   */
  async revalidateRunning(): Promise<void> {
    for (const s of this.store.list({ status: "active" })) {
      if (this.stopped) return;
      if (s.chainActivatedAt === null) continue; // driveUnfinished handles these
      try {
        const chain = await this.readSession(s.id);
        if (chain.status === ChainSessionStatus.Active) {
          this.syncExpiry(s, chain);
          continue;
        }
        this.log.warn(
          { sessionId: s.id, chainStatus: CHAIN_STATUS_NAMES[chain.status] ?? chain.status },
          "session is over on-chain but its event was not seen: tearing down",
        );
        await this.drive(s.id, "revalidate");
      } catch (err) {
        this.log.warn({ sessionId: s.id, err: describe(err) }, "re-checking a session failed (will retry)");
      }
    }
  }

  /** Takes the chain's expiry when it differs from the store's (an extension); true when it changed. */
  private syncExpiry(s: SessionRecord, chain: ChainSession): boolean {
    const expiresAt = Number(chain.expiresAt);
    if (expiresAt === 0 || s.expiresAt === expiresAt) return false;
    this.store.setExpiresAt(s.id, expiresAt);
    this.log.info({ sessionId: s.id, expiresAt, was: s.expiresAt }, "session expiry updated from the chain");
    return true;
  }

  // ---------------------------------------------------------------------------------------------------------
  // expiry and earnings

  private async settleExpired(): Promise<void> {
    // Expiry is chain time: take the later of our clock and the latest block's timestamp.
    const active = this.store.list({ status: "active" });
    if (active.length === 0) return;
    const block = await this.opts.ctx.publicClient.getBlock({ blockTag: "latest" });
    const now = Math.max(Math.floor(Date.now() / 1000), Number(block.timestamp));
    for (const s of this.opts.manager.expired(now)) {
      if (this.stopped) return;
      if ((this.retryAt.get(`expire.${s.id}`) ?? 0) > Date.now()) continue;
      try {
        const chain = await this.readSession(s.id);
        // Extended meanwhile (its event not seen yet): the chain's expiry wins.
        if (chain.status === ChainSessionStatus.Active && Number(chain.expiresAt) > now) {
          this.syncExpiry(s, chain);
          continue;
        }
        if (chain.status === ChainSessionStatus.Active) {
          const receipt = await this.send("endSession", [BigInt(s.id)]);
          this.log.info({ sessionId: s.id, tx: receipt.transactionHash }, "expired session settled on-chain");
        }
        await this.opts.manager.end(s.id, "expired");
      } catch (err) {
        // e.g. the chain's clock is a little behind ours (SessionNotOpen / not expired yet): try again soon.
        this.retryAt.set(`expire.${s.id}`, Date.now() + 5_000);
        this.log.warn({ sessionId: s.id, err: describe(err) }, "settling an expired session failed (will retry)");
      }
    }
  }

  /** Withdraws this provider's credits (ETH and USDC) when there are any. */
  async withdrawEarnings(): Promise<void> {
    const tokens: Address[] = [zeroAddress];
    if (this.opts.ctx.deployments.USDC !== zeroAddress) tokens.push(this.opts.ctx.deployments.USDC);
    for (const token of tokens) {
      try {
        const credit = await this.opts.ctx.publicClient.readContract({
          address: this.rental,
          abi: computeRentalAbi,
          functionName: "credits",
          args: [this.provider, token],
        });
        if (credit === 0n) continue;
        const receipt = await this.send("withdraw", [token]);
        this.log.info({ token, amount: credit.toString(), tx: receipt.transactionHash }, "earnings withdrawn");
      } catch (err) {
        this.log.warn({ token, err: describe(err) }, "withdraw failed (will retry)");
      }
    }
  }

  /** Sends one of our transactions (one at a time, so nonces never collide) and waits for success. */
  private send(
    functionName: "activateSession" | "rejectSession" | "endSession" | "withdraw",
    args: readonly unknown[],
  ) {
    const { wallet, publicClient } = this.opts.ctx;
    if (wallet === undefined) throw new Error(`cannot send ${functionName}: this node has no PRIVATE_KEY`);
    const run = async () => {
      const hash = await wallet.writeContract({
        address: this.rental,
        abi: computeRentalAbi,
        functionName,
        args: args as never,
      } as never);
      const receipt = await publicClient.waitForTransactionReceipt({
        hash,
        pollingInterval: 50,
        timeout: 120_000,
      });
      if (receipt.status !== "success") throw new Error(`${functionName} reverted (${hash})`);
      return receipt;
    };
    const p = this.sendChain.then(run, run);
    this.sendChain = p.catch(() => {});
    return p;
  }
}

/** The custom error a contract call reverted with, if any. */
export function revertName(err: unknown): string | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const r = err.walk((e) => e instanceof ContractFunctionRevertedError);
  return r instanceof ContractFunctionRevertedError ? r.data?.errorName : undefined;
}

function describe(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage;
  return err instanceof Error ? err.message : String(err);
}
