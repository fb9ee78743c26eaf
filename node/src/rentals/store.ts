/**
 * The node's embedded rental state (better-sqlite3, WAL): sessions and a key/value table (the chain watcher's
 * block cursor lives there).
 *
 * Session state machine (the only transitions {@link SessionStore} allows):
 *
 *   pending ──beginProvisioning──▶ provisioning ──markActive──▶ active ──markEnded──▶ ended
 *      │                               │
 *      └──────────markRejected─────────┴──▶ rejected        (pending/provisioning ──markEnded──▶ ended too:
 *                                                            cancelled by the renter, or reorged out)
 *
 * `provisioning` is written (and committed) *before* `docker create`; after a crash, every session still in
 * `provisioning` is re-driven, and the container is found by its label before any new create, so a session
 * never gets a second container. `chainActivatedAt` records that `activateSession` was mined (the watcher
 * re-sends it for active sessions without it).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { normalizeSessionId, usernameForSession } from "@jeju/compute-sdk/ssh/keys";
import { RentalError } from "./errors.ts";

export const SESSION_STATUSES = ["pending", "provisioning", "active", "ended", "rejected"] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export type SessionRecord = {
  /** uint256 session id, decimal. */
  id: string;
  renter: string;
  provider: string;
  sshPublicKey: string;
  /** SSH username, {@link usernameForSession}(id). */
  username: string;
  gpuCount: number;
  /** GPU device ids assigned at provisioning. */
  gpus: string[];
  status: SessionStatus;
  containerId: string | null;
  /** Why it was rejected or ended. */
  reason: string | null;
  /** Block and transaction of `SessionCreated` (for reorg checks). */
  createdBlock: bigint | null;
  createdTx: string | null;
  /** Unix seconds; null until known (set at activation). */
  expiresAt: number | null;
  activationTx: string | null;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
  provisionedAt: number | null;
  chainActivatedAt: number | null;
  endedAt: number | null;
};

export type NewSession = {
  id: bigint | number | string;
  renter: string;
  provider: string;
  sshPublicKey: string;
  gpuCount?: number;
  createdBlock?: bigint | null;
  createdTx?: string | null;
  expiresAt?: number | null;
};

/** A transition the state machine does not allow. */
export class SessionStateError extends RentalError {
  override readonly name = "SessionStateError";
  constructor(
    readonly sessionId: string,
    readonly from: SessionStatus | "missing",
    readonly to: SessionStatus,
  ) {
    super(`session ${sessionId}: cannot go from ${from} to ${to}`, "session_state", 409);
  }
}

type Row = {
  id: string;
  renter: string;
  provider: string;
  ssh_public_key: string;
  username: string;
  gpu_count: number;
  gpus: string;
  status: SessionStatus;
  container_id: string | null;
  reason: string | null;
  created_block: string | null;
  created_tx: string | null;
  expires_at: number | null;
  activation_tx: string | null;
  created_at: number;
  updated_at: number;
  provisioned_at: number | null;
  chain_activated_at: number | null;
  ended_at: number | null;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id                 TEXT PRIMARY KEY,
  renter             TEXT NOT NULL,
  provider           TEXT NOT NULL,
  ssh_public_key     TEXT NOT NULL,
  username           TEXT NOT NULL UNIQUE,
  gpu_count          INTEGER NOT NULL DEFAULT 0,
  gpus               TEXT NOT NULL DEFAULT '[]',
  status             TEXT NOT NULL CHECK (status IN ('pending','provisioning','active','ended','rejected')),
  container_id       TEXT,
  reason             TEXT,
  created_block      TEXT,
  created_tx         TEXT,
  expires_at         INTEGER,
  activation_tx      TEXT,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  provisioned_at     INTEGER,
  chain_activated_at INTEGER,
  ended_at           INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions (status);
CREATE TABLE IF NOT EXISTS kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** Statuses that hold a rental slot (and GPUs) on this node. */
export const OPEN_STATUSES: readonly SessionStatus[] = ["provisioning", "active"];

export class SessionStore {
  readonly db: Database.Database;
  private readonly now: () => number;

  /** `file`: a path (its directory is created) or ":memory:". */
  constructor(file: string, opts: { now?: () => number } = {}) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9); only an OS crash can
    // lose the last ones, and the watcher replays those from its cursor.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    this.now = opts.now ?? Date.now;
  }

  /** `<dataDir>/rentals.sqlite`. */
  static open(dataDir: string): SessionStore {
    return new SessionStore(path.join(dataDir, "rentals.sqlite"));
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one immediate transaction (all or nothing, serialized with other writers). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Records a session seen on-chain as `pending`. Idempotent: a second call with the same id (event replayed
   * after a restart or a reorg) returns the stored record unchanged and `inserted: false`.
   */
  insertPending(s: NewSession): { record: SessionRecord; inserted: boolean } {
    const id = normalizeSessionId(s.id);
    const t = this.now();
    const res = this.db
      .prepare(
        `INSERT INTO sessions (id, renter, provider, ssh_public_key, username, gpu_count, status, created_block,
           created_tx, expires_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      )
      .run(
        id,
        s.renter,
        s.provider,
        s.sshPublicKey,
        usernameForSession(id),
        s.gpuCount ?? 0,
        s.createdBlock == null ? null : s.createdBlock.toString(),
        s.createdTx ?? null,
        s.expiresAt ?? null,
        t,
        t,
      );
    return { record: this.mustGet(id), inserted: res.changes === 1 };
  }

  get(id: bigint | number | string): SessionRecord | undefined {
    const row = this.db.prepare("SELECT * FROM sessions WHERE id = ?").get(normalizeSessionId(id)) as Row | undefined;
    return row && fromRow(row);
  }

  getByUsername(username: string): SessionRecord | undefined {
    const row = this.db.prepare("SELECT * FROM sessions WHERE username = ?").get(username) as Row | undefined;
    return row && fromRow(row);
  }

  list(filter: { status?: SessionStatus | readonly SessionStatus[]; renter?: string } = {}): SessionRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status !== undefined) {
      const st = typeof filter.status === "string" ? [filter.status] : [...filter.status];
      where.push(`status IN (${st.map(() => "?").join(",")})`);
      args.push(...st);
    }
    if (filter.renter !== undefined) {
      where.push("lower(renter) = lower(?)");
      args.push(filter.renter);
    }
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY CAST(id AS INTEGER), id`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  /** Sessions holding a slot (provisioning or active). */
  countOpen(): number {
    const r = this.db.prepare("SELECT count(*) AS n FROM sessions WHERE status IN ('provisioning','active')").get() as {
      n: number;
    };
    return r.n;
  }

  /** GPU ids held by open sessions. */
  gpusInUse(exceptId?: string): Set<string> {
    const rows = this.db.prepare("SELECT id, gpus FROM sessions WHERE status IN ('provisioning','active')").all() as {
      id: string;
      gpus: string;
    }[];
    const used = new Set<string>();
    for (const r of rows) if (r.id !== exceptId) for (const g of JSON.parse(r.gpus) as string[]) used.add(g);
    return used;
  }

  /**
   * pending → provisioning, recording the intent (and the GPUs chosen) *before* any container is made.
   * `chooseGpus` runs inside the transaction with the ids other open sessions hold, and may throw to refuse.
   * Already provisioning: returned as is (a retry after a crash). Other statuses: {@link SessionStateError}.
   */
  beginProvisioning(
    id: bigint | number | string,
    chooseGpus: (inUse: Set<string>, record: SessionRecord) => string[] = () => [],
  ): SessionRecord {
    const sid = normalizeSessionId(id);
    return this.transaction(() => {
      const cur = this.get(sid);
      if (!cur) throw new SessionStateError(sid, "missing", "provisioning");
      if (cur.status === "provisioning") return cur;
      if (cur.status !== "pending") throw new SessionStateError(sid, cur.status, "provisioning");
      const gpus = chooseGpus(this.gpusInUse(sid), cur);
      this.db
        .prepare("UPDATE sessions SET status = 'provisioning', gpus = ?, updated_at = ? WHERE id = ?")
        .run(JSON.stringify(gpus), this.now(), sid);
      return this.mustGet(sid);
    });
  }

  /** provisioning → active, with the container that serves it. Already active: updates the container id. */
  markActive(id: bigint | number | string, containerId: string): SessionRecord {
    const sid = normalizeSessionId(id);
    return this.transaction(() => {
      const cur = this.get(sid);
      if (!cur) throw new SessionStateError(sid, "missing", "active");
      if (cur.status !== "provisioning" && cur.status !== "active")
        throw new SessionStateError(sid, cur.status, "active");
      const t = this.now();
      this.db
        .prepare(
          `UPDATE sessions SET status = 'active', container_id = ?, provisioned_at = coalesce(provisioned_at, ?),
             updated_at = ? WHERE id = ?`,
        )
        .run(containerId, t, t, sid);
      return this.mustGet(sid);
    });
  }

  /** Records that `activateSession` was mined (and the session's expiry, when known). */
  markActivatedOnChain(id: bigint | number | string, txHash: string, expiresAt?: number): SessionRecord {
    const sid = normalizeSessionId(id);
    const t = this.now();
    const res = this.db
      .prepare(
        `UPDATE sessions SET activation_tx = ?, chain_activated_at = coalesce(chain_activated_at, ?),
           expires_at = coalesce(?, expires_at), updated_at = ? WHERE id = ? AND status = 'active'`,
      )
      .run(txHash, t, expiresAt ?? null, t, sid);
    if (res.changes === 0) throw new SessionStateError(sid, this.get(sid)?.status ?? "missing", "active");
    return this.mustGet(sid);
  }

  setExpiresAt(id: bigint | number | string, expiresAt: number): void {
    this.db
      .prepare("UPDATE sessions SET expires_at = ?, updated_at = ? WHERE id = ?")
      .run(expiresAt, this.now(), normalizeSessionId(id));
  }

  /** pending/provisioning → rejected. Already rejected: unchanged. */
  markRejected(id: bigint | number | string, reason: string): SessionRecord {
    return this.finish(id, "rejected", reason, ["pending", "provisioning"]);
  }

  /** any open status → ended. Already ended or rejected: unchanged (idempotent). */
  markEnded(id: bigint | number | string, reason: string): SessionRecord {
    return this.finish(id, "ended", reason, ["pending", "provisioning", "active"]);
  }

  private finish(
    id: bigint | number | string,
    to: "ended" | "rejected",
    reason: string,
    from: SessionStatus[],
  ): SessionRecord {
    const sid = normalizeSessionId(id);
    return this.transaction(() => {
      const cur = this.get(sid);
      if (!cur) throw new SessionStateError(sid, "missing", to);
      if (cur.status === to || (to === "ended" && cur.status === "rejected")) return cur;
      if (!from.includes(cur.status)) throw new SessionStateError(sid, cur.status, to);
      const t = this.now();
      this.db
        .prepare("UPDATE sessions SET status = ?, reason = ?, ended_at = ?, updated_at = ? WHERE id = ?")
        .run(to, reason, t, t, sid);
      return this.mustGet(sid);
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // key/value (chain cursor)

  kvGet(key: string): string | undefined {
    const r = this.db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined;
    return r?.value;
  }

  kvSet(key: string, value: string): void {
    this.db
      .prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  /**
   * The name this store's containers carry on dockerd (ContainerManager `instance`): `configured` when given
   * (and then kept), else the one chosen the first time (8 random hex digits), so a restart finds its
   * containers again and another node's store never matches them.
   */
  instanceName(configured?: string): string {
    const key = "node.instance";
    if (configured !== undefined && configured !== "") {
      if (this.kvGet(key) !== configured) this.kvSet(key, configured);
      return configured;
    }
    const known = this.kvGet(key);
    if (known !== undefined) return known;
    const fresh = randomBytes(4).toString("hex");
    this.kvSet(key, fresh);
    return fresh;
  }

  /** The last block the chain watcher fully processed (default key `chain.cursor`). */
  getCursor(key = "chain.cursor"): bigint | undefined {
    const v = this.kvGet(key);
    return v === undefined ? undefined : BigInt(v);
  }

  setCursor(block: bigint, key = "chain.cursor"): void {
    this.kvSet(key, block.toString());
  }

  private mustGet(id: string): SessionRecord {
    const r = this.get(id);
    if (!r) throw new SessionStateError(id, "missing", "pending");
    return r;
  }
}

function fromRow(r: Row): SessionRecord {
  return {
    id: r.id,
    renter: r.renter,
    provider: r.provider,
    sshPublicKey: r.ssh_public_key,
    username: r.username,
    gpuCount: r.gpu_count,
    gpus: JSON.parse(r.gpus) as string[],
    status: r.status,
    containerId: r.container_id,
    reason: r.reason,
    createdBlock: r.created_block === null ? null : BigInt(r.created_block),
    createdTx: r.created_tx,
    expiresAt: r.expires_at,
    activationTx: r.activation_tx,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    provisionedAt: r.provisioned_at,
    chainActivatedAt: r.chain_activated_at,
    endedAt: r.ended_at,
  };
}
