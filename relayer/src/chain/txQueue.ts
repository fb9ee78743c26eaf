/**
 * A nonce-ordered transaction queue for the relayer's gas key, persisted in SQLite so that nothing is lost
 * or sent twice across a restart.
 *
 * - One submission at a time (a promise chain), so nonces are handed out in order without gaps.
 * - Each transaction is simulated (`eth_estimateGas` from the relayer) before it gets a nonce: a call that
 *   would revert is refused and costs no gas.
 * - Each transaction has an idempotency `key` (default: hash of to/data/value). Submitting a key again
 *   returns the first transaction instead of sending another.
 * - The signed raw transaction is written before it is broadcast; on start, {@link TxQueue.init} re-sends
 *   every signed-but-unmined transaction in nonce order and resumes from the right nonce.
 */
import {
  type Abi,
  type Account,
  concat,
  type Hex,
  keccak256,
  numberToHex,
  type PublicClient,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
} from "viem";
import type { RelayerDb } from "../db.ts";
import { RelayerError, SimulationError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { revertReason } from "./revert.ts";

export type TxStatus = "signed" | "sent" | "confirmed" | "reverted" | "failed";

export type TxRecord = {
  id: number;
  key: string;
  to: `0x${string}`;
  data: Hex;
  value: bigint;
  nonce: number;
  hash: Hex;
  status: TxStatus;
  error: string | null;
};

export type SubmitParameters = {
  to: `0x${string}`;
  data: Hex;
  value?: bigint;
  /** Idempotency key; default keccak256(to ‖ data ‖ value). */
  key?: string;
  /** ABI used to name a simulated revert. */
  abi?: Abi;
};

export type SubmitResult = { hash: Hex; nonce: number; reused: boolean };

export type TxQueueOptions = {
  db: RelayerDb;
  /** A local account (signs offline). */
  account: Account & { signTransaction: NonNullable<Account["signTransaction"]> };
  publicClient: PublicClient;
  chainId: number;
  log: Logger;
  /** Receipt polling interval (ms). */
  pollIntervalMs?: number;
  /** Gas limit = estimate × (1 + gasBufferPct/100). */
  gasBufferPct?: number;
  /** Broadcast hook (tests inject failures). */
  broadcast?: (raw: Hex) => Promise<unknown>;
};

type Row = {
  id: number;
  key: string;
  to_address: string;
  data: string;
  value: string;
  nonce: number;
  hash: string;
  raw: string;
  status: string;
  error: string | null;
};

export class TxQueue {
  readonly address: `0x${string}`;
  readonly #o: TxQueueOptions;
  #tail: Promise<unknown> = Promise.resolve();
  #nextNonce: number | undefined;
  #fees: { at: number; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | undefined;
  #stmts;

  constructor(options: TxQueueOptions) {
    this.#o = options;
    this.address = options.account.address;
    const db = options.db;
    this.#stmts = {
      byKey: db.prepare<[string], Row>("SELECT * FROM txs WHERE key = ?"),
      byHash: db.prepare<[string], Row>("SELECT * FROM txs WHERE hash = ?"),
      open: db.prepare<[string], Row>(
        "SELECT * FROM txs WHERE sender = ? AND status IN ('signed','sent') ORDER BY nonce ASC",
      ),
      maxNonce: db.prepare<[string], { n: number | null }>(
        "SELECT MAX(nonce) AS n FROM txs WHERE sender = ? AND status IN ('signed','sent','confirmed','reverted')",
      ),
      insert: db.prepare(
        `INSERT INTO txs (key, sender, to_address, data, value, nonce, hash, raw, status, created_at, updated_at)
         VALUES (@key, @sender, @to, @data, @value, @nonce, @hash, @raw, 'signed', @now, @now)`,
      ),
      setStatus: db.prepare("UPDATE txs SET status = ?, error = ?, updated_at = ? WHERE hash = ?"),
      deleteKey: db.prepare("DELETE FROM txs WHERE key = ? AND status = 'failed'"),
      counts: db.prepare<[], { status: string; n: number }>("SELECT status, COUNT(*) AS n FROM txs GROUP BY status"),
    };
  }

  /** Recover after a restart: settle what was mined, re-send what was signed but not mined, pick the nonce. */
  async init(): Promise<void> {
    await this.#serial(async () => {
      const pc = this.#o.publicClient;
      const latest = await pc.getTransactionCount({ address: this.address, blockTag: "latest" });
      for (const row of this.#stmts.open.all(this.address)) {
        const receipt = await this.#receipt(row.hash as Hex);
        if (receipt) {
          this.#mark(row.hash, receipt.status === "success" ? "confirmed" : "reverted", null);
        } else if (row.nonce >= latest) {
          try {
            await this.#broadcast(row.raw as Hex);
            this.#mark(row.hash, "sent", null);
            this.#o.log.info({ hash: row.hash, nonce: row.nonce }, "re-sent transaction after restart");
          } catch (err) {
            if (isAlreadyKnown(err)) this.#mark(row.hash, "sent", null);
            else this.#mark(row.hash, "failed", revertReason(err));
          }
        } else {
          // Its nonce was used by another transaction (not ours): this one can never be mined.
          this.#mark(row.hash, "failed", "nonce used by another transaction");
        }
      }
      await this.#syncNonce();
    });
  }

  /** Simulate, sign, persist and broadcast a transaction (or return the one already sent for `key`). */
  submit(p: SubmitParameters): Promise<SubmitResult> {
    return this.#serial(async () => {
      try {
        return await this.#submit(p);
      } catch (err) {
        // Someone else used this key's nonce (another process, a manual send): resync and try once more.
        if (err instanceof RelayerError && err.code === "nonce_too_low") return this.#submit(p);
        throw err;
      }
    });
  }

  async #submit(p: SubmitParameters): Promise<SubmitResult> {
    const value = p.value ?? 0n;
    const key = p.key ?? keccak256(concat([p.to, p.data, numberToHex(value, { size: 32 })]));
    const existing = this.#stmts.byKey.get(key);
    if (existing && existing.status !== "failed") {
      return { hash: existing.hash as Hex, nonce: existing.nonce, reused: true };
    }
    if (existing) this.#stmts.deleteKey.run(key);

    const pc = this.#o.publicClient;
    let gas: bigint;
    try {
      gas = await pc.estimateGas({ account: this.address, to: p.to, data: p.data, value });
    } catch (err) {
      throw new SimulationError(revertReason(err, p.abi), err);
    }
    gas += (gas * BigInt(this.#o.gasBufferPct ?? 25)) / 100n;
    const fees = await this.#feeQuote();
    if (this.#nextNonce === undefined) await this.#syncNonce();
    const nonce = this.#nextNonce as number;
    const raw = await this.#o.account.signTransaction({
      type: "eip1559",
      chainId: this.#o.chainId,
      to: p.to,
      data: p.data,
      value,
      gas,
      nonce,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const hash = keccak256(raw);
    this.#stmts.insert.run({
      key,
      sender: this.address,
      to: p.to,
      data: p.data,
      value: value.toString(),
      nonce,
      hash,
      raw,
      now: Date.now(),
    });
    try {
      await this.#broadcast(raw);
    } catch (err) {
      if (!isAlreadyKnown(err)) {
        this.#mark(hash, "failed", revertReason(err));
        // The nonce was not consumed by this transaction; resync in case the chain's view differs from ours.
        this.#nextNonce = undefined;
        if (isNonceTooLow(err)) {
          this.#o.log.warn({ nonce, hash }, "nonce too low: another sender used this key; resyncing");
          throw new RelayerError(409, "nonce_too_low", "nonce too low", { retryable: true, cause: err });
        }
        throw new RelayerError(503, "broadcast_failed", `Could not broadcast transaction: ${revertReason(err)}`, {
          retryable: true,
          cause: err,
        });
      }
    }
    this.#mark(hash, "sent", null);
    this.#nextNonce = nonce + 1;
    return { hash, nonce, reused: false };
  }

  /** Wait until `hash` is mined; marks the queue row confirmed or reverted. */
  async waitForReceipt(hash: Hex, timeoutMs = 60_000): Promise<TransactionReceipt> {
    const deadline = Date.now() + timeoutMs;
    const interval = this.#o.pollIntervalMs ?? 50;
    for (;;) {
      const receipt = await this.#receipt(hash);
      if (receipt) {
        this.#mark(hash, receipt.status === "success" ? "confirmed" : "reverted", null);
        return receipt;
      }
      if (Date.now() > deadline) {
        throw new RelayerError(504, "receipt_timeout", `Transaction ${hash} not mined within ${timeoutMs} ms`, {
          retryable: true,
        });
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  get(hash: Hex): TxRecord | undefined {
    const row = this.#stmts.byHash.get(hash);
    return row ? toRecord(row) : undefined;
  }

  getByKey(key: string): TxRecord | undefined {
    const row = this.#stmts.byKey.get(key);
    return row ? toRecord(row) : undefined;
  }

  stats(): Record<string, number> {
    return Object.fromEntries(this.#stmts.counts.all().map((r) => [r.status, r.n]));
  }

  async #syncNonce(): Promise<void> {
    const chainPending = await this.#o.publicClient.getTransactionCount({ address: this.address, blockTag: "pending" });
    const dbMax = this.#stmts.maxNonce.get(this.address)?.n;
    this.#nextNonce = Math.max(chainPending, dbMax === null || dbMax === undefined ? 0 : dbMax + 1);
  }

  async #feeQuote(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const now = Date.now();
    if (this.#fees && now - this.#fees.at < 2_000) return this.#fees;
    const f = await this.#o.publicClient.estimateFeesPerGas();
    this.#fees = { at: now, maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas };
    return this.#fees;
  }

  async #broadcast(raw: Hex): Promise<void> {
    if (this.#o.broadcast) {
      await this.#o.broadcast(raw);
      return;
    }
    await this.#o.publicClient.sendRawTransaction({ serializedTransaction: raw });
  }

  async #receipt(hash: Hex): Promise<TransactionReceipt | undefined> {
    try {
      return await this.#o.publicClient.getTransactionReceipt({ hash });
    } catch (err) {
      if (err instanceof TransactionReceiptNotFoundError) return undefined;
      throw err;
    }
  }

  #mark(hash: string, status: TxStatus, error: string | null): void {
    this.#stmts.setStatus.run(status, error, Date.now(), hash);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

function isNonceTooLow(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.message} ${(err as { details?: string }).details ?? ""}` : String(err);
  return /nonce too low|nonce has already been used|invalid nonce/i.test(msg);
}

function isAlreadyKnown(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.message} ${(err as { details?: string }).details ?? ""}` : String(err);
  return /already known|already imported|known transaction/i.test(msg);
}

function toRecord(row: Row): TxRecord {
  return {
    id: row.id,
    key: row.key,
    to: row.to_address as `0x${string}`,
    data: row.data as Hex,
    value: BigInt(row.value),
    nonce: row.nonce,
    hash: row.hash as Hex,
    status: row.status as TxStatus,
    error: row.error,
  };
}
