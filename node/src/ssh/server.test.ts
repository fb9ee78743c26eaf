/**
 * The SSH server against the real OpenSSH client and a real dockerd: commands land in the session's container.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerManager } from "../rentals/containers.ts";
import { RentalManager } from "../rentals/manager.ts";
import { SessionStore } from "../rentals/store.ts";
import { SESSION_IMAGE, ensureDocker, skipWithoutDocker } from "../rentals/test-setup.ts";
import { usernameForSession } from "@jeju/compute-sdk/ssh/keys";
import { SshServer, loadOrCreateHostKey } from "./server.ts";

const skip = skipWithoutDocker() || !fs.existsSync("/usr/bin/ssh");
if (!fs.existsSync("/usr/bin/ssh"))
  console.warn("!! SKIPPING SSH tests: OpenSSH client absent (apt-get install openssh-client)");

// Own provider label and session ids 201–299, so other test files never see these containers.
const PROVIDER = "0xtest-ssh";
const LIMITS = { memoryBytes: 256 * 1024 * 1024, nanoCpus: 1_000_000_000, pidsLimit: 256 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-ssh-"));
const keys = { a: "", b: "", stranger: "", relay: "" };
let server: SshServer;
let rentals: RentalManager;
let port = 0;

function keygen(name: string, type: string, bits?: string): string {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(bits ? ["-b", bits] : []), "-N", "", "-C", name, "-f", file]);
  return file;
}

const BASE_OPTS = [
  "-F",
  "/dev/null",
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
];

type Run = { code: number | null; out: string; err: string };

function run(cmd: string, args: string[], input?: string, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}

function ssh(
  key: string,
  user: string,
  command: string[],
  opts: { input?: string; extra?: string[] } = {},
): Promise<Run> {
  return run(
    "ssh",
    [...BASE_OPTS, "-p", String(port), "-i", key, ...(opts.extra ?? []), `${user}@127.0.0.1`, ...command],
    opts.input,
  );
}

async function provision(id: bigint, keyFile: string): Promise<string> {
  const res = await rentals.provision({
    id,
    renter: "0xrenter",
    provider: PROVIDER,
    sshPublicKey: fs.readFileSync(`${keyFile}.pub`, "utf8"),
  });
  if (res.status !== "active") throw new Error(`session ${id} not active: ${JSON.stringify(res)}`);
  return res.session.containerId ?? "";
}

describe.skipIf(skip)("SSH server (real OpenSSH client, real dockerd)", () => {
  const A = 201n;
  const B = 202n;
  let containerA = "";

  beforeAll(async () => {
    await ensureDocker();
    keys.a = keygen("a", "ed25519");
    keys.b = keygen("b", "rsa", "2048");
    keys.stranger = keygen("stranger", "ecdsa", "256");
    keys.relay = keygen("relay", "ed25519");
    const containers = new ContainerManager({
      provider: PROVIDER,
      volumesRoot: path.join(dir, "vols"),
      defaultImage: SESSION_IMAGE,
    });
    for (const c of await containers.listAll()) await containers.removeSession(c.sessionId); // aborted runs
    rentals = new RentalManager({ store: new SessionStore(":memory:"), containers, maxRentals: 8, limits: LIMITS });
    server = new SshServer({
      sessions: rentals,
      containers,
      port: 0,
      host: "127.0.0.1",
      dataDir: path.join(dir, "data"),
      relayKeys: [fs.readFileSync(`${keys.relay}.pub`, "utf8").trim()],
    });
    rentals.attachSsh((id) => server.revoke(id));
    port = await server.listen();
    [containerA] = await Promise.all([provision(A, keys.a), provision(B, keys.b)]);
  });

  afterAll(async () => {
    await server?.close();
    if (rentals)
      for (const c of await rentals.containers.listAll()) await rentals.containers.removeSession(c.sessionId);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lets a trusted relay's key in as an active session, and only as one", async () => {
    const r = await ssh(keys.relay, usernameForSession(A), ["hostname"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toBe(containerA.slice(0, 12));
    const none = await ssh(keys.relay, usernameForSession(299n), ["true"]);
    expect(none.code).toBe(255);
    expect(none.err).toContain("Permission denied (publickey)");
    expect((await ssh(keys.relay, "root", ["true"])).code).toBe(255);
  });

  it("runs the command inside the session's container", async () => {
    const r = await ssh(keys.a, usernameForSession(A), [
      "hostname; cat /etc/compute-session; cat /proc/1/cgroup; echo $COMPUTE_SESSION_ID",
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const [hostname, marker, ...rest] = r.out.trim().split("\n");
    expect(hostname, "hostname is the container id prefix").toBe(containerA.slice(0, 12));
    expect(marker).toContain("compute session image");
    expect(rest.join("\n"), "pid 1 is in the container's cgroup").toContain(containerA);
    expect(rest.at(-1)).toBe("201");
  });

  it("passes exit codes, stdin and stderr through", async () => {
    expect((await ssh(keys.a, "s201", ["exit 3"])).code).toBe(3);
    const r = await ssh(keys.a, "s201", ["tr a-z A-Z; echo to-stderr >&2; exit 0"], { input: "hello\n" });
    expect(r).toEqual({ code: 0, out: "HELLO\n", err: "to-stderr\n" });
    // stdin EOF reaches the process: wc ends and prints the count.
    expect((await ssh(keys.a, "s201", ["wc -c"], { input: "x".repeat(100_000) })).out.trim()).toBe("100000");
  });

  it("gives a pty with -tt: tty, window size, interactive shell with exit status", async () => {
    const r = await ssh(keys.a, "s201", ["tty; echo TERM=$TERM"], { extra: ["-tt"] });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\/dev\/pts\/\d+\r\n/);
    const shell = await ssh(keys.a, "s201", [], { extra: ["-tt"], input: "echo answer=$((6*7)); exit 5\n" });
    expect(shell.out).toContain("answer=42");
    expect(shell.code).toBe(5);
  });

  it("passes the pty size and window changes through", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const c = new ssh2.Client();
      let text = "";
      let sent = false;
      c.on("ready", () => {
        c.exec("stty size; read _; stty size", { pty: { rows: 30, cols: 100, term: "xterm" } }, (err, ch) => {
          if (err) return reject(err);
          ch.on("data", (d: Buffer) => {
            text += d.toString();
            if (!sent && text.includes("\n")) {
              sent = true;
              ch.setWindow(40, 120, 0, 0);
              setTimeout(() => ch.write("\n"), 300);
            }
          });
          ch.on("close", () => {
            c.end();
            resolve(text);
          });
        });
      });
      c.on("error", reject);
      c.connect({
        host: "127.0.0.1",
        port,
        username: "s201",
        privateKey: fs.readFileSync(keys.a),
        readyTimeout: 10_000,
      });
    });
    expect(out).toMatch(/^30 100\r\n/);
    expect(out).toMatch(/40 120\r\n$/);
  });

  it("copies files in and out with scp (SFTP) and sftp", async () => {
    const src = path.join(dir, "payload.bin");
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    fs.writeFileSync(src, data);
    const scpArgs = [...BASE_OPTS, "-P", String(port), "-i", keys.a];
    const up = await run("scp", [...scpArgs, src, "s201@127.0.0.1:/workspace/payload.bin"]);
    expect(up.err).toBe("");
    expect(up.code).toBe(0);
    expect((await ssh(keys.a, "s201", ["sha256sum /workspace/payload.bin | cut -c1-64"])).out.trim()).toBe(
      execFileSync("sha256sum", [src]).toString().slice(0, 64),
    );
    const back = path.join(dir, "back.bin");
    const down = await run("scp", [...scpArgs, "s201@127.0.0.1:/workspace/payload.bin", back]);
    expect(down.code).toBe(0);
    expect(fs.readFileSync(back).equals(data), "round trip is byte-exact").toBe(true);
    const sftp = await run("sftp", [...scpArgs, "-b", "-", "s201@127.0.0.1"], "cd /workspace\nls -1\n");
    expect(sftp.code).toBe(0);
    expect(sftp.out).toContain("payload.bin");
  });

  it("refuses a stranger's key, another session's key, unknown users and passwords", async () => {
    const stranger = await ssh(keys.stranger, "s201", ["true"]);
    expect(stranger.code).toBe(255);
    expect(stranger.err).toMatch(/Permission denied \(publickey\)/);
    const crossed = await ssh(keys.a, usernameForSession(B), ["true"]);
    expect(crossed.code, "A's key cannot log in as B").toBe(255);
    expect(crossed.err).toMatch(/Permission denied \(publickey\)/);
    expect((await ssh(keys.b, "s202", ["echo ok"])).out, "B's own key works").toBe("ok\n");
    expect((await ssh(keys.a, "root", ["true"])).code).toBe(255);
    expect((await ssh(keys.a, "s999", ["true"])).code).toBe(255);
    // Password and keyboard-interactive, from a client that would send them.
    for (const auth of [{ password: "hunter2" }, { tryKeyboard: true }]) {
      const err = await new Promise<Error | undefined>((resolve) => {
        const c = new ssh2.Client();
        c.on("ready", () => {
          c.end();
          resolve(undefined);
        });
        c.on("error", (e: Error) => resolve(e));
        c.on("keyboard-interactive", (_n, _i, _l, _p, finish) => finish(["hunter2"]));
        c.connect({ host: "127.0.0.1", port, username: "s201", ...auth, readyTimeout: 10_000 });
      });
      expect(err?.message, JSON.stringify(auth)).toMatch(/authentication methods failed/);
    }
  });

  it("refuses port forwarding (-R, -W)", async () => {
    const remote = await ssh(keys.a, "s201", ["true"], {
      extra: ["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"],
    });
    expect(remote.code).toBe(255);
    const stdio = await ssh(keys.a, "s201", [], { extra: ["-W", "127.0.0.1:22"] });
    expect(stdio.code).toBe(255);
    expect(stdio.err).toMatch(/forwarding failed|open failed|administratively prohibited/);
  });

  it("revokes: ending a session closes its connections and refuses new ones", async () => {
    const C = 203n;
    await provision(C, keys.b);
    const long = ssh(keys.b, "s203", ["echo started; sleep 60"]);
    for (let i = 0; i < 100 && server.connectionCount("203") === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.connectionCount("203")).toBe(1);
    const t0 = Date.now();
    await rentals.end(C, "renter ended");
    const r = await long;
    expect(r.code, "the open connection was closed").not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const again = await ssh(keys.b, "s203", ["true"]);
    expect(again.code).toBe(255);
    expect(again.err).toMatch(/Permission denied/);
    expect(await rentals.containers.findSessionContainer(C)).toBeUndefined();
    // Session B (same key, other session) is untouched.
    expect((await ssh(keys.b, "s202", ["echo ok"])).out).toBe("ok\n");
  });

  it("keeps its host key across restarts", () => {
    const d = path.join(dir, "data");
    const first = loadOrCreateHostKey(d);
    expect(first.fingerprint).toBe(server.hostKeyFingerprint);
    expect(loadOrCreateHostKey(d).privateKey).toBe(first.privateKey);
    expect(fs.statSync(path.join(d, "ssh_host_ed25519_key")).mode & 0o777).toBe(0o600);
  });
});
