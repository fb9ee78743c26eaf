/**
 * The SSH relay against a small ssh2 server standing in for a provider node (the full path through a real
 * node and container is in test/e2e/rentals.test.ts), with the real OpenSSH client: host key pinning, exit
 * codes and signals, refusals.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { generateEd25519, loadOrCreateHostKey, parseSshPublicKey, sameKey } from "@jeju/compute-sdk/ssh/keys";
import ssh2, { type Connection } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.ts";
import { SshRelay } from "./relay.ts";
import type { RelayTarget, TargetLookup } from "./targets.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-relay-"));
const relayClient = generateEd25519("relay");
const providerHost = loadOrCreateHostKey(path.join(dir, "provider"));
let renterKey = "";
let upstreamPort = 0;
let upstream: InstanceType<typeof ssh2.Server>;
let relay: SshRelay;
let target: TargetLookup;
const seenByProvider: string[] = [];

/** A provider's SSH server: lets the relay's key in as s7, runs `exit N` / `kill -SIG` / echoes stdin. */
function startProvider(): Promise<number> {
  const relayPub = parseSshPublicKey(relayClient.public);
  upstream = new ssh2.Server({ hostKeys: [providerHost.privateKey] }, (conn: Connection) => {
    conn.on("error", () => {}); // the relay hanging up on an unpinned key mid-handshake
    conn.on("authentication", (ctx) => {
      if (ctx.method === "publickey" && ctx.username === "s7" && sameKey(relayPub, ctx.key.data)) return ctx.accept();
      ctx.reject(["publickey"]);
    });
    conn.on("ready", () =>
      conn.on("session", (accept) => {
        const session = accept();
        session.on("exec", (acceptExec, _reject, info) => {
          const ch = acceptExec();
          seenByProvider.push(info.command);
          const exit = /^exit (\d+)$/.exec(info.command);
          const sig = /^kill -(\w+)$/.exec(info.command);
          if (exit) {
            ch.write("bye\n");
            ch.exit(Number(exit[1]));
            ch.end();
          } else if (sig) {
            ch.exit(sig[1] as string, false, "");
            ch.end();
          } else {
            ch.on("data", (d: Buffer) => ch.write(d.toString().toUpperCase()));
            ch.on("end", () => {
              ch.exit(0);
              ch.end();
            });
          }
        });
      }),
    );
  });
  return new Promise((resolve) =>
    upstream.listen(0, "127.0.0.1", () => resolve((upstream.address() as net.AddressInfo).port)),
  );
}

function ssh(
  user: string,
  command: string,
  input = "",
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn("ssh", [
      "-F",
      "/dev/null",
      "-p",
      String(relay.port),
      "-i",
      renterKey,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "LogLevel=ERROR",
      `${user}@127.0.0.1`,
      command,
    ]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code, signal) => resolve({ code, signal, out, err }));
    p.stdin.end(input);
  });
}

const targetFor = (hostKey: string): TargetLookup => {
  const t: RelayTarget = {
    sessionId: 7n,
    provider: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    sshPublicKey: fs.readFileSync(`${renterKey}.pub`, "utf8"),
    host: "127.0.0.1",
    port: upstreamPort,
    username: "s7",
    hostKey,
  };
  return { ok: true, target: t };
};

describe("SshRelay", () => {
  beforeAll(async () => {
    renterKey = path.join(dir, "renter");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "renter", "-f", renterKey]);
    upstreamPort = await startProvider();
    target = targetFor(providerHost.publicKey);
    relay = new SshRelay({
      resolve: async (id) => (id === 7n ? target : { ok: false, reason: "not active" }),
      hostKey: generateEd25519("relay-host").private,
      clientKey: relayClient.private,
      port: 0,
      host: "127.0.0.1",
      log: silentLogger,
    });
    await relay.listen();
  });
  afterAll(async () => {
    await relay?.close();
    upstream?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes the command, stdin, output and the exit status through to the pinned provider", async () => {
    expect(await ssh("s7", "exit 42")).toMatchObject({ code: 42, out: "bye\n" });
    expect(await ssh("s7", "upper", "through\n")).toMatchObject({ code: 0, out: "THROUGH\n" });
    expect(seenByProvider).toContain("exit 42");
  });

  it("passes a remote signal through as the exit (OpenSSH reports 255)", async () => {
    const r = await ssh("s7", "kill -TERM");
    expect(r.code).toBe(255);
    expect(seenByProvider).toContain("kill -TERM");
  });

  it("refuses a provider whose host key is not the one published on-chain", async () => {
    target = targetFor(generateEd25519("impostor").public.split(" ").slice(0, 2).join(" "));
    const before = seenByProvider.length;
    const r = await ssh("s7", "exit 0");
    target = targetFor(providerHost.publicKey);
    expect(r.code).toBe(255);
    expect(r.err).toContain("compute relay: cannot reach the provider's SSH server");
    expect(seenByProvider.length, "nothing ran on the impostor").toBe(before);
  });

  it("ProxyJump: a direct-tcpip channel to exactly the session's SSH address, nowhere else", async () => {
    const w = (dest: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn("ssh", [
          "-F",
          "/dev/null",
          "-p",
          String(relay.port),
          "-i",
          renterKey,
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "BatchMode=yes",
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "LogLevel=ERROR",
          "-W",
          dest,
          "s7@127.0.0.1",
        ]);
        let out = "";
        let err = "";
        p.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) p.kill("SIGTERM"); // the provider's banner arrived: enough
        });
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("close", (code) => resolve({ code, out, err }));
        setTimeout(() => p.kill("SIGKILL"), 10_000);
      });
    // The session's own address: the provider's SSH banner comes back through the relay, byte for byte.
    const ok = await w(`127.0.0.1:${upstreamPort}`);
    expect(ok.out).toMatch(/^SSH-2\.0-/);
    // Any other port or host: refused by the relay.
    for (const dest of [`127.0.0.1:${relay.port}`, `localhost:${upstreamPort}`, "10.0.0.1:22"]) {
      const r = await w(dest);
      expect(r.out, dest).toBe("");
      expect(r.code, dest).toBe(255);
    }
  });

  it("refuses sessions the resolver refuses, and usernames that name no session", async () => {
    for (const user of ["s8", "root", "s07"]) {
      const r = await ssh(user, "exit 0");
      expect(r.code, user).toBe(255);
      expect(r.err).toContain("Permission denied (publickey)");
    }
  });
});
