/**
 * The chain-independent core of rentals: what the chain watcher calls on `SessionCreated` / `SessionEnded`
 * (and at start-up), tying the store, containers and SSH together.
 *
 *   watcher: SessionCreated(id, renter, key, gpus…) → provision(…)
 *            → {status: "active"}   → activateSession on-chain → store.markActivatedOnChain(id, tx)
 *            → {status: "rejected"} → rejectSession(id, reason) on-chain (renter refunded)
 *   watcher: SessionEnded / Rejected / Cancelled / reorged out / expired → end(id, reason)
 *   start-up: reconcile() before following the chain again
 *
 * Every method is idempotent, so the watcher may replay events from its cursor after a crash.
 */
import os from "node:os";
import { silentLogger, type Logger } from "../logger.ts";
import { InvalidSshKeyError, parseSshPublicKey } from "@jeju/compute-sdk/ssh/keys";
import type { SshSessionInfo, SshSessionLookup } from "../ssh/server.ts";
import type { ContainerManager, ResourceLimits } from "./containers.ts";
import { CapacityExceededError, InsufficientGpusError } from "./errors.ts";
import type { GpuDevice } from "./gpus.ts";
import type { NewSession, SessionRecord, SessionStore } from "./store.ts";

export type RentalManagerOptions = {
  store: SessionStore;
  containers: ContainerManager;
  /** MAX_RENTALS: sessions provisioning or active at once. */
  maxRentals: number;
  /** GPUs of this host (detectGpus()); sessions get disjoint subsets. */
  gpus?: GpuDevice[];
  /** Per-session limits; default {@link defaultLimits}(maxRentals). */
  limits?: ResourceLimits | ((s: SessionRecord) => ResourceLimits);
  /** Session image (default: the container manager's). */
  image?: string;
  /** Closes SSH connections of an ended session (SshServer.revoke). Can be attached later. */
  revokeSsh?: (sessionId: string) => void;
  logger?: Logger;
};

export type ProvisionResult =
  | { status: "active"; session: SessionRecord; created: boolean }
  | { status: "rejected"; session: SessionRecord; reason: string }
  | { status: "ended"; session: SessionRecord };

/** An even split of this machine among `maxRentals` sessions (90% of memory, all CPUs, 4096 pids each). */
export function defaultLimits(maxRentals: number): ResourceLimits {
  const n = Math.max(1, maxRentals);
  const mem = Math.floor((os.totalmem() * 0.9) / n);
  return {
    memoryBytes: Math.max(64 * 1024 * 1024, mem - (mem % (1024 * 1024))),
    nanoCpus: Math.max(100_000_000, Math.floor((os.availableParallelism() * 1e9) / n)),
    pidsLimit: 4096,
  };
}

export class RentalManager implements SshSessionLookup {
  readonly store: SessionStore;
  readonly containers: ContainerManager;
  private readonly opts: RentalManagerOptions;
  private readonly log: Logger;
  private revokeSsh: ((sessionId: string) => void) | undefined;

  constructor(opts: RentalManagerOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.containers = opts.containers;
    this.revokeSsh = opts.revokeSsh;
    this.log = (opts.logger ?? silentLogger).child({ component: "rentals" });
  }

  attachSsh(revoke: (sessionId: string) => void): void {
    this.revokeSsh = revoke;
  }

  limitsFor(s: SessionRecord): ResourceLimits {
    const l = this.opts.limits;
    if (typeof l === "function") return l(s);
    return l ?? defaultLimits(this.opts.maxRentals);
  }

  /**
   * Brings a session up (exactly once): records it, validates the key, takes a slot and GPUs, records the
   * intent, creates (or finds) its container, marks it active. A refusal (bad key, no capacity, not enough
   * GPUs) ends as `rejected` with a reason for `rejectSession`. Docker failures throw (retryable; the
   * session stays `provisioning` and the next call or reconcile() resumes it).
   */
  async provision(s: NewSession): Promise<ProvisionResult> {
    const { record } = this.store.insertPending(s);
    if (record.status === "rejected") return { status: "rejected", session: record, reason: record.reason ?? "" };
    if (record.status === "ended") return { status: "ended", session: record };

    let current = record;
    if (current.status === "pending") {
      try {
        parseSshPublicKey(current.sshPublicKey);
        current = this.store.transaction(() => {
          if (this.store.countOpen() >= this.opts.maxRentals) throw new CapacityExceededError(this.opts.maxRentals);
          return this.store.beginProvisioning(current.id, (inUse, r) => this.chooseGpus(inUse, r.gpuCount));
        });
      } catch (err) {
        if (
          err instanceof InvalidSshKeyError ||
          err instanceof CapacityExceededError ||
          err instanceof InsufficientGpusError
        ) {
          const reason = err instanceof InvalidSshKeyError ? `invalid ssh key: ${err.message}` : err.message;
          const rejected = this.store.markRejected(current.id, reason);
          this.log.warn({ sessionId: current.id, reason }, "session rejected");
          return { status: "rejected", session: rejected, reason };
        }
        throw err;
      }
    }
    const existed = current.containerId !== null;
    const info = await this.containers.createSessionContainer({
      sessionId: current.id,
      image: this.opts.image,
      limits: this.limitsFor(current),
      gpus: current.gpus,
    });
    // A session ended while its container was being made must not come back.
    const after = this.store.get(current.id);
    if (after && (after.status === "ended" || after.status === "rejected")) {
      await this.containers.removeSession(current.id, { deleteData: true });
      return after.status === "ended"
        ? { status: "ended", session: after }
        : { status: "rejected", session: after, reason: after.reason ?? "" };
    }
    const active = this.store.markActive(current.id, info.id);
    if (!existed) this.log.info({ sessionId: active.id, container: info.id.slice(0, 12) }, "session active");
    return { status: "active", session: active, created: !existed };
  }

  /** Ends a session here: state `ended`, SSH revoked, containers and data removed. Idempotent. */
  async end(sessionId: bigint | number | string, reason: string): Promise<SessionRecord | undefined> {
    const cur = this.store.get(sessionId);
    if (!cur) return undefined;
    const rec = cur.status === "ended" || cur.status === "rejected" ? cur : this.store.markEnded(cur.id, reason);
    this.revokeSsh?.(rec.id);
    await this.containers.removeSession(rec.id, { deleteData: true });
    return rec;
  }

  /**
   * After a restart: resume `provisioning` sessions, make sure `active` ones have a running container, and
   * remove containers of sessions that are over or unknown. Returns what it did.
   */
  async reconcile(): Promise<{ resumed: string[]; restarted: string[]; removed: string[] }> {
    const resumed: string[] = [];
    const restarted: string[] = [];
    const removed: string[] = [];
    for (const s of this.store.list({ status: ["provisioning", "active"] })) {
      const had = await this.containers.findSessionContainer(s.id);
      const res = await this.provision({
        id: s.id,
        renter: s.renter,
        provider: s.provider,
        sshPublicKey: s.sshPublicKey,
      });
      if (s.status === "provisioning") resumed.push(s.id);
      else if (res.status === "active" && !had?.running) restarted.push(s.id);
    }
    const open = new Set(this.store.list({ status: ["provisioning", "active"] }).map((s) => s.id));
    const stray = new Set(
      (await this.containers.listAll()).map((c) => c.sessionId).filter((id) => id && !open.has(id)),
    );
    for (const id of stray) {
      await this.containers.removeSession(id, { deleteData: this.store.get(id) !== undefined });
      removed.push(id);
    }
    if (resumed.length + restarted.length + removed.length > 0) {
      this.log.info({ resumed, restarted, removed }, "rentals reconciled");
    }
    return { resumed, restarted, removed };
  }

  /** Active sessions whose `activateSession` has not been mined yet (the watcher (re)sends it). */
  pendingChainActivation(): SessionRecord[] {
    return this.store.list({ status: "active" }).filter((s) => s.chainActivatedAt === null);
  }

  /** Sessions past their expiry (unix seconds `now`), for the watcher to settle and end. */
  expired(nowSec = Math.floor(Date.now() / 1000)): SessionRecord[] {
    return this.store.list({ status: "active" }).filter((s) => s.expiresAt !== null && s.expiresAt <= nowSec);
  }

  /** {@link SshSessionLookup} over the store. */
  lookupSshSession(username: string): SshSessionInfo | undefined {
    const r = this.store.getByUsername(username);
    return r && { sessionId: r.id, sshPublicKey: r.sshPublicKey, active: r.status === "active" };
  }

  private chooseGpus(inUse: Set<string>, count: number): string[] {
    if (count <= 0) return [];
    const free = (this.opts.gpus ?? []).map((g) => g.id).filter((id) => !inUse.has(id));
    if (free.length < count) throw new InsufficientGpusError(count, free.length);
    return free.slice(0, count);
  }
}
