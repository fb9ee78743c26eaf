import { randomFillSync } from "node:crypto";

const ALPHABET = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "latin1");

// Ids are minted on every request: one crypto call per 4 KiB of randomness, and the characters are
// written into a scratch buffer and decoded once (no per-character string building).
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;
const scratch = Buffer.allocUnsafe(256);

/** An id like OpenAI's: `chatcmpl-` + 29 alphanumerics. */
export function randomId(prefix: string, length = 29): string {
  if (length > scratch.length) throw new RangeError("randomId: length too large");
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  for (let i = 0; i < length; i++) scratch[i] = ALPHABET[(pool[offset + i] ?? 0) % ALPHABET.length] ?? 65;
  offset += length;
  return prefix + scratch.toString("latin1", 0, length);
}
