import { randomFillSync } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// One crypto call per 4 KiB of ids instead of one per id: ids are minted on every request.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** An id like OpenAI's: `chatcmpl-` + 29 alphanumerics. */
export function randomId(prefix: string, length = 29): string {
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  let out = prefix;
  for (let i = 0; i < length; i++) out += ALPHABET[(pool[offset + i] ?? 0) % ALPHABET.length];
  offset += length;
  return out;
}
