/**
 * Spent-nonce store: one row per EIP-3009 authorization (chain, token, payer, nonce) the node has accepted.
 * `claim` is an atomic insert, so of any number of concurrent requests carrying the same authorization exactly
 * one proceeds. The row then records the settlement: `settled` (tx hash), `pending` (answer served, settlement
 * to retry, with everything needed to retry it), or `failed` (recorded, never silently dropped).
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export type SettlementStatus = "claimed" | "settled" | "pending" | "failed";

export type PaymentRecord = {
  key: string;
  payer: string;
  amount: string;
  resource: string;
  status: SettlementStatus;
  transaction: string | null;
  /** JSON `{paymentPayload, paymentRequirements}` kept for retries. */
  request: string | null;
  error: string | null;
  attempts: number;
  createdAt: number;
  updatedAt: number;
};

export interface SpentNonceStore {
  /** Atomically claim `key`; false if it was claimed before (a replay). */
  claim(key: string, info: { payer: string; amount: string; resource: string }): boolean;
  /** Forget a claim whose payment was not used (refused before serving, or the handler failed). */
  release(key: string): void;
  markSettled(key: string, transaction: string): void;
  markPending(key: string, request: string, error: string): void;
  markFailed(key: string, error: string): void;
  /** Settlements waiting for a retry, oldest first. */
  pending(limit?: number): PaymentRecord[];
  get(key: string): PaymentRecord | undefined;
  close?(): void;
}

type Row = {
  key: string;
  payer: string;
  amount: string;
  resource: string;
  status: SettlementStatus;
  tx: string | null;
  request: string | null;
  error: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
};

const toRecord = (r: Row): PaymentRecord => ({
  key: r.key,
  payer: r.payer,
  amount: r.amount,
  resource: r.resource,
  status: r.status,
  transaction: r.tx,
  request: r.request,
  error: r.error,
  attempts: r.attempts,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** SQLite-backed store (WAL); `":memory:"` for tests. Safe across processes sharing the file. */
export class SqliteSpentNonceStore implements SpentNonceStore {
  readonly #db: Database.Database;
  readonly #s;

  constructor(file: string) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.exec(`CREATE TABLE IF NOT EXISTS x402_payments (
      key TEXT PRIMARY KEY, payer TEXT NOT NULL, amount TEXT NOT NULL, resource TEXT NOT NULL,
      status TEXT NOT NULL, tx TEXT, request TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`);
    this.#db.exec("CREATE INDEX IF NOT EXISTS x402_payments_status ON x402_payments (status, updated_at)");
    const db = this.#db;
    this.#s = {
      claim: db.prepare(
        `INSERT OR IGNORE INTO x402_payments (key, payer, amount, resource, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'claimed', ?, ?)`,
      ),
      release: db.prepare("DELETE FROM x402_payments WHERE key = ? AND status = 'claimed'"),
      settled: db.prepare(
        "UPDATE x402_payments SET status = 'settled', tx = ?, error = NULL, updated_at = ? WHERE key = ?",
      ),
      pendingSet: db.prepare(
        "UPDATE x402_payments SET status = 'pending', request = ?, error = ?, attempts = attempts + 1, updated_at = ? WHERE key = ?",
      ),
      failed: db.prepare("UPDATE x402_payments SET status = 'failed', error = ?, updated_at = ? WHERE key = ?"),
      pending: db.prepare<[number], Row>(
        "SELECT * FROM x402_payments WHERE status = 'pending' ORDER BY updated_at ASC LIMIT ?",
      ),
      get: db.prepare<[string], Row>("SELECT * FROM x402_payments WHERE key = ?"),
    };
  }

  claim(key: string, info: { payer: string; amount: string; resource: string }): boolean {
    const now = Date.now();
    return this.#s.claim.run(key, info.payer, info.amount, info.resource, now, now).changes === 1;
  }
  release(key: string): void {
    this.#s.release.run(key);
  }
  markSettled(key: string, transaction: string): void {
    this.#s.settled.run(transaction, Date.now(), key);
  }
  markPending(key: string, request: string, error: string): void {
    this.#s.pendingSet.run(request, error, Date.now(), key);
  }
  markFailed(key: string, error: string): void {
    this.#s.failed.run(error, Date.now(), key);
  }
  pending(limit = 100): PaymentRecord[] {
    return this.#s.pending.all(limit).map(toRecord);
  }
  get(key: string): PaymentRecord | undefined {
    const r = this.#s.get.get(key);
    return r ? toRecord(r) : undefined;
  }
  close(): void {
    this.#db.close();
  }
}
