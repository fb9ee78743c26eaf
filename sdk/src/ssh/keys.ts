/**
 * SSH keys for the node's SSH server and the relayer's SSH relay: renters' public keys, the session ↔ username
 * mapping, and our own keys (host keys, the relay's client key).
 *
 * A renter puts an OpenSSH public key line on-chain (`ssh-ed25519 AAAA… user@host`); the node validates it
 * before provisioning (an invalid key gets the session rejected, so the renter is refunded) and the SSH server
 * compares the key a client offers with it by wire blob, which covers the key type and all key material.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import ssh2, { type ParsedKey } from "ssh2";

// ssh2 is CommonJS without named ESM exports.
const { utils } = ssh2;

/** Key types a renter may use: what OpenSSH's `ssh-keygen` makes by default and what ssh2 can verify. */
export const ALLOWED_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
] as const;
export type SshKeyType = (typeof ALLOWED_KEY_TYPES)[number];

/** Smallest RSA modulus accepted (OpenSSH refuses < 1024; we ask for the modern minimum). */
export const MIN_RSA_BITS = 2048;

export type SshPublicKey = {
  type: SshKeyType;
  /** The SSH wire encoding of the public key (`string type, …key material`), what clients send in auth. */
  blob: Buffer;
  /** The key as an OpenSSH line without comment: `type base64`. */
  openssh: string;
  comment: string;
  /** OpenSSH-style fingerprint: `SHA256:…`. */
  fingerprint: string;
  parsed: ParsedKey;
};

export class InvalidSshKeyError extends Error {
  override readonly name = "InvalidSshKeyError";
  readonly code = "invalid_ssh_key";
}

/** Max length of the on-chain key string we consider (an RSA-16384 line is ~2.8 kB). */
const MAX_KEY_LENGTH = 8192;

/** Parses one OpenSSH public key line. Throws {@link InvalidSshKeyError} with a reason a renter can act on. */
export function parseSshPublicKey(text: string): SshPublicKey {
  if (typeof text !== "string" || text.length === 0) throw new InvalidSshKeyError("ssh public key is empty");
  if (text.length > MAX_KEY_LENGTH)
    throw new InvalidSshKeyError(`ssh public key longer than ${MAX_KEY_LENGTH} characters`);
  const line = text.trim();
  if (/[\r\n]/.test(line)) throw new InvalidSshKeyError("ssh public key must be a single line");
  if (line.includes("PRIVATE KEY")) throw new InvalidSshKeyError("that is a private key; send the .pub file");
  const [type, b64, ...rest] = line.split(/\s+/);
  if (!type || !b64) throw new InvalidSshKeyError("expected `<type> <base64> [comment]`");
  if (!(ALLOWED_KEY_TYPES as readonly string[]).includes(type)) {
    throw new InvalidSshKeyError(
      `unsupported ssh key type ${JSON.stringify(type)} (use ${ALLOWED_KEY_TYPES.join(", ")})`,
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new InvalidSshKeyError("ssh public key data is not base64");
  const parsed = utils.parseKey(`${type} ${b64}`);
  if (parsed instanceof Error) throw new InvalidSshKeyError(`cannot parse ssh public key: ${parsed.message}`);
  if (parsed.isPrivateKey()) throw new InvalidSshKeyError("that is a private key; send the .pub file");
  if (parsed.type !== type) throw new InvalidSshKeyError(`key type ${parsed.type} does not match the line's ${type}`);
  const blob = parsed.getPublicSSH();
  if (!Buffer.from(b64, "base64").equals(blob)) throw new InvalidSshKeyError("ssh public key data is malformed");
  if (type === "ssh-rsa") {
    const bits = rsaModulusBits(blob);
    if (bits < MIN_RSA_BITS)
      throw new InvalidSshKeyError(`RSA key has ${bits} bits; at least ${MIN_RSA_BITS} required`);
  }
  return {
    type: type as SshKeyType,
    blob,
    openssh: `${type} ${blob.toString("base64")}`,
    comment: rest.join(" "),
    fingerprint: fingerprintOf(blob),
    parsed,
  };
}

/** True when `text` is a public key the node accepts for a session. */
export function isValidSshPublicKey(text: string): boolean {
  try {
    parseSshPublicKey(text);
    return true;
  } catch {
    return false;
  }
}

/** True when the wire blob a client offered is the same key as `key` (type and key material). */
export function sameKey(key: SshPublicKey, offeredBlob: Buffer): boolean {
  return key.blob.length === offeredBlob.length && key.blob.equals(offeredBlob);
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHashBase64(blob)}`;
}

function createHashBase64(data: Buffer): string {
  return createHash("sha256").update(data).digest("base64").replace(/=+$/, "");
}

/** Bits of the modulus in an `ssh-rsa` wire blob: string "ssh-rsa", mpint e, mpint n. */
function rsaModulusBits(blob: Buffer): number {
  let off = 0;
  const next = (): Buffer => {
    const len = blob.readUInt32BE(off);
    const v = blob.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return v;
  };
  next(); // type
  next(); // e
  let n = next();
  while (n.length > 0 && n[0] === 0) n = n.subarray(1);
  if (n.length === 0) return 0;
  return (n.length - 1) * 8 + (32 - Math.clz32(n[0] ?? 0));
}

// ---------------------------------------------------------------------------------------------------------
// Usernames

/**
 * The SSH username of a session: `s` + the decimal session id (`s42`). The node gives it in the session's
 * `ssh: {host, port, username}`; the SSH server maps it back with {@link sessionIdFromUsername}.
 */
export function usernameForSession(sessionId: bigint | number | string): string {
  return `s${normalizeSessionId(sessionId)}`;
}

/** The session id a username names, or undefined when it names none (`root`, `s01`, `s`, `sabc`). */
export function sessionIdFromUsername(username: string): string | undefined {
  const m = /^s([1-9][0-9]{0,77}|0)$/.exec(username);
  return m?.[1];
}

/** Session ids are uint256 on-chain; inside the node they travel as canonical decimal strings. */
export function normalizeSessionId(sessionId: bigint | number | string): string {
  let v: bigint;
  try {
    v = BigInt(sessionId);
  } catch {
    throw new RangeError(`session id must be a non-negative integer, got ${String(sessionId)}`);
  }
  if (v < 0n || v >= 1n << 256n) throw new RangeError(`session id out of uint256 range: ${String(sessionId)}`);
  return v.toString(10);
}

// ---------------------------------------------------------------------------------------------------------
// Keys of our own (host keys, the SSH relay's client key)

const HOST_KEY_FILE = "ssh_host_ed25519_key";

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator writes a key that neither it nor OpenSSH can load
 * about 3 times in 1000 (measured: 6 of 2000); a key is only returned after it parsed and signed and verified.
 */
export function generateEd25519(comment: string): { private: string; public: string } {
  const probe = Buffer.from("compute key check");
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = utils.generateKeyPairSync("ed25519", { comment });
    const parsed = utils.parseKey(pair.private);
    if (parsed instanceof Error) continue;
    const sig = parsed.sign(probe);
    if (!(sig instanceof Error) && parsed.verify(probe, sig) === true) return pair;
  }
  throw new Error("could not generate a usable ed25519 key");
}

/**
 * An ed25519 key in `<dataDir>/<file>` (default `ssh_host_ed25519_key`; mode 0600), generated on first use and
 * kept, so clients' known_hosts (and anyone trusting it) stay valid across restarts. Safe against two processes
 * racing to create it.
 */
export function loadOrCreateHostKey(
  dataDir: string,
  opts: { file?: string; comment?: string } = {},
): { privateKey: string; publicKey: string; fingerprint: string } {
  const file = path.join(dataDir, opts.file ?? HOST_KEY_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pair = generateEd25519(opts.comment ?? "compute-node");
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, pair.private, { mode: 0o600 });
    try {
      fs.linkSync(tmp, file); // fails if another process won the race; then we use theirs
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  const privateKey = fs.readFileSync(file, "utf8");
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`cannot parse SSH host key ${file}: ${parsed.message}`);
  const blob = parsed.getPublicSSH();
  const publicKey = `${parsed.type} ${blob.toString("base64")}`;
  // The public half next to it (`.pub`), for operators: e.g. the SSH relay's key goes into a node's SSH_RELAY_KEYS.
  if (!fs.existsSync(`${file}.pub`))
    fs.writeFileSync(`${file}.pub`, `${publicKey} ${opts.comment ?? "compute-node"}\n`, { mode: 0o644 });
  return { privateKey, publicKey, fingerprint: fingerprintOf(blob) };
}

/** What {@link listenSsh} needs of a server: ssh2's Server (or any net.Server). */
type Listenable = {
  listen(port: number, host: string, cb: () => void): unknown;
  once(event: "error", cb: (err: Error) => void): unknown;
  off(event: "error", cb: (err: Error) => void): unknown;
  address(): unknown;
};

/** Listens on `host:port` (0: a free port); resolves with the bound port, rejects on EADDRINUSE and the like. */
export async function listenSsh(server: Listenable, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as { port: number }).port;
}
