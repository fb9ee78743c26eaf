/**
 * The relayer's embedded database (better-sqlite3, WAL): the transaction queue and settlement results.
 * Synchronous statements make check-and-insert atomic within the process.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export type RelayerDb = Database.Database;

const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS txs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     key TEXT NOT NULL UNIQUE,
     sender TEXT NOT NULL,
     to_address TEXT NOT NULL,
     data TEXT NOT NULL,
     value TEXT NOT NULL,
     nonce INTEGER NOT NULL,
     hash TEXT NOT NULL,
     raw TEXT NOT NULL,
     status TEXT NOT NULL,
     error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
  "CREATE INDEX IF NOT EXISTS txs_status_nonce ON txs (status, nonce)",
  `CREATE TABLE IF NOT EXISTS settlements (
     key TEXT PRIMARY KEY,
     payer TEXT NOT NULL,
     status TEXT NOT NULL,
     response TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
];

/** Open (creating) the database at `file`; `":memory:"` for tests. */
export function openDb(file: string): RelayerDb {
  if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  for (const sql of MIGRATIONS) db.exec(sql);
  return db;
}
