import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  generateEd25519,
  InvalidSshKeyError,
  loadOrCreateHostKey,
  isValidSshPublicKey,
  normalizeSessionId,
  parseSshPublicKey,
  sameKey,
  sessionIdFromUsername,
  usernameForSession,
} from "./keys.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-keys-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function keygen(type: string, extra: string[] = []): string {
  const file = path.join(dir, `${type}-${extra.join("")}`);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...extra, "-N", "", "-C", "renter@laptop", "-f", file]);
  return fs.readFileSync(`${file}.pub`, "utf8");
}
function fingerprint(pub: string): string {
  const f = path.join(dir, "fp.pub");
  fs.writeFileSync(f, pub);
  return execFileSync("ssh-keygen", ["-lf", f]).toString().split(" ")[1] ?? "";
}

describe("parseSshPublicKey", () => {
  for (const [type, extra, want] of [
    ["ed25519", [], "ssh-ed25519"],
    ["rsa", ["-b", "3072"], "ssh-rsa"],
    ["ecdsa", ["-b", "256"], "ecdsa-sha2-nistp256"],
    ["ecdsa", ["-b", "521"], "ecdsa-sha2-nistp521"],
  ] as const) {
    it(`parses an ssh-keygen ${want} key with OpenSSH's fingerprint`, () => {
      const pub = keygen(type, [...extra]);
      const k = parseSshPublicKey(pub);
      expect(k.type, "type").toBe(want);
      expect(k.comment, "comment").toBe("renter@laptop");
      expect(k.fingerprint, "fingerprint equals ssh-keygen -l").toBe(fingerprint(pub));
      expect(sameKey(k, k.blob), "same blob").toBe(true);
    });
  }

  it("tells two keys of the same type apart", () => {
    const a = parseSshPublicKey(keygen("ed25519", ["-Z", "aes128-ctr"]));
    const b = parseSshPublicKey(keygen("ed25519", ["-a", "4"]));
    expect(sameKey(a, b.blob)).toBe(false);
  });

  it("rejects garbage, private keys, unknown types, multi-line input and short RSA keys", () => {
    const bad = [
      "",
      "ssh-ed25519",
      "ssh-ed25519 !!!notbase64",
      "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
      `${keygen("ed25519", ["-a", "8"]).trim()}\nssh-ed25519 AAAA`,
      // type on the line does not match the blob
      keygen("ed25519", ["-a", "9"]).replace(/^ssh-ed25519/, "ssh-rsa"),
      keygen("rsa", ["-b", "1024"]),
    ];
    for (const k of bad) {
      expect(() => parseSshPublicKey(k), JSON.stringify(k.slice(0, 40))).toThrow(InvalidSshKeyError);
      expect(isValidSshPublicKey(k)).toBe(false);
    }
  });
});

describe("usernames", () => {
  it("maps session ids to s<id> and back", () => {
    expect(usernameForSession(42n)).toBe("s42");
    expect(usernameForSession("7")).toBe("s7");
    expect(sessionIdFromUsername("s42")).toBe("42");
    expect(sessionIdFromUsername(usernameForSession(2n ** 255n))).toBe((2n ** 255n).toString());
    for (const u of ["root", "s", "s042", "sabc", "s-1", "S1", "s1 ", "s1x"])
      expect(sessionIdFromUsername(u), u).toBeUndefined();
  });
  it("refuses ids outside uint256", () => {
    expect(() => normalizeSessionId(-1n)).toThrow(RangeError);
    expect(() => normalizeSessionId(2n ** 256n)).toThrow(RangeError);
    expect(() => normalizeSessionId("x")).toThrow(RangeError);
  });
});

describe("our own keys", () => {
  it("generates only keys that OpenSSH loads (ssh2's generator alone fails ~3 in 1000)", () => {
    for (let i = 0; i < 300; i++) {
      const pair = generateEd25519("check");
      expect(parseSshPublicKey(pair.public).type).toBe("ssh-ed25519");
    }
    // OpenSSH itself derives the same public key from one of them.
    const file = path.join(dir, "generated");
    const pair = generateEd25519("check");
    fs.writeFileSync(file, pair.private, { mode: 0o600 });
    const derived = execFileSync("ssh-keygen", ["-y", "-f", file]).toString().trim().split(" ").slice(0, 2);
    expect(derived).toEqual(pair.public.split(" ").slice(0, 2));
  });

  it("keeps a key across loads, with its .pub beside it, and names it by OpenSSH's fingerprint", () => {
    const a = loadOrCreateHostKey(path.join(dir, "state"), { file: "relay_key", comment: "relay" });
    const b = loadOrCreateHostKey(path.join(dir, "state"), { file: "relay_key", comment: "relay" });
    expect(b).toEqual(a);
    const pub = fs.readFileSync(path.join(dir, "state", "relay_key.pub"), "utf8");
    expect(pub).toBe(`${a.publicKey} relay\n`);
    expect(fingerprint(pub)).toBe(a.fingerprint);
    expect((fs.statSync(path.join(dir, "state", "relay_key")).mode & 0o777).toString(8)).toBe("600");
  });
});
