import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import * as net_ from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ContainerManager,
  LABEL_INSTANCE,
  LABEL_PROVIDER,
  LABEL_ROLE,
  LABEL_SESSION,
  type ResourceLimits,
} from "./containers.ts";
import { silentLogger } from "../logger.ts";
import { ensureHostGuard, GUARD_CHAIN } from "./hostguard.ts";
import { ContainerNotFoundError, InvalidContainerRequestError, SessionNotRunningError } from "./errors.ts";
import { SESSION_IMAGE, ensureDocker, skipWithoutDocker } from "./test-setup.ts";

const skip = skipWithoutDocker();
// Own provider label and session ids 101–199 (used so far: 101–112), so other test files never see these containers.
const PROVIDER = "0xtest-containers";
const LIMITS: ResourceLimits = { memoryBytes: 256 * 1024 * 1024, nanoCpus: 500_000_000, pidsLimit: 128 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-vols-"));
let m: ContainerManager;

/**
 * GET with node:http. Not fetch: Node 20's undici never settles a fetch whose connection docker-proxy resets
 * before the backend listens.
 */
function httpGet(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => resolve(res.statusCode === 200 ? b : ""));
      res.on("error", () => resolve(""));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(""));
  });
}

async function output(sessionId: string, cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const h = await m.exec(sessionId, cmd);
  let out = "";
  let err = "";
  h.stdout.on("data", (d: Buffer) => (out += d.toString()));
  h.stderr.on("data", (d: Buffer) => (err += d.toString()));
  h.stdin.end();
  const code = await h.exit;
  return { code, out, err };
}

describe.skipIf(skip)("ContainerManager (real dockerd)", () => {
  beforeAll(async () => {
    await ensureDocker();
    m = new ContainerManager({ provider: PROVIDER, volumesRoot: dir, defaultImage: SESSION_IMAGE });
    await m.ping();
    for (const c of await m.listAll()) await m.removeSession(c.sessionId); // leftovers of an aborted run
  });
  afterAll(async () => {
    if (!m) return;
    for (const c of await m.listAll()) await m.removeSession(c.sessionId);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("creates a session container with limits, labels and the hardening applied", async () => {
    const info = await m.createSessionContainer({ sessionId: 101n, limits: LIMITS });
    expect(info).toMatchObject({ sessionId: "101", role: "session", running: true, name: "compute-session-101" });
    const ins = await m.docker.getContainer(info.id).inspect();
    const hc = ins.HostConfig;
    expect(hc.Memory, "memory").toBe(LIMITS.memoryBytes);
    expect(hc.MemorySwap, "no swap").toBe(LIMITS.memoryBytes);
    expect(hc.NanoCpus, "cpus").toBe(LIMITS.nanoCpus);
    expect(hc.PidsLimit, "pids").toBe(LIMITS.pidsLimit);
    expect(hc.Init, "init").toBe(true);
    expect(hc.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(hc.CapDrop).toEqual(["ALL"]);
    expect(hc.Privileged).toBe(false);
    expect(hc.NetworkMode).toBe("compute-s101");
    expect(hc.DeviceRequests ?? [], "no GPUs on a host without nvidia-smi").toEqual([]);
    expect(ins.Config.Labels).toMatchObject({
      [LABEL_SESSION]: "101",
      [LABEL_PROVIDER]: PROVIDER,
      [LABEL_ROLE]: "session",
    });
    // Inside: the pids limit and the dropped capabilities are what the kernel enforces.
    const r = await output("101", [
      "sh",
      "-c",
      "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; grep CapEff /proc/self/status; cat /etc/compute-session",
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^128\n/);
    expect(r.out).toMatch(/CapEff:\s+00000000000004fb/); // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID NET_BIND_SERVICE
    expect(r.out).toContain("compute session image");
  });

  it("is idempotent by session id, also for concurrent calls and after the container stopped", async () => {
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map(() => m.createSessionContainer({ sessionId: 102n, limits: LIMITS })),
    );
    expect(new Set([a?.id, b?.id, c?.id]).size, "one container").toBe(1);
    // A second manager (another process after a restart) finds it by label instead of creating one.
    const other = new ContainerManager({ provider: PROVIDER, volumesRoot: dir, defaultImage: SESSION_IMAGE });
    await m.docker.getContainer(a?.id ?? "").stop({ t: 0 });
    const again = await other.createSessionContainer({ sessionId: 102n, limits: LIMITS });
    expect(again.id).toBe(a?.id);
    expect(again.running, "restarted").toBe(true);
    expect((await m.listAll(102n)).length).toBe(1);
  });

  it("passes stdin, stdout, stderr and exit codes through exec", async () => {
    await m.createSessionContainer({ sessionId: 103n, limits: LIMITS });
    const h = await m.exec("103", ["sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"]);
    let out = "";
    let err = "";
    h.stdout.on("data", (d: Buffer) => (out += d.toString()));
    h.stderr.on("data", (d: Buffer) => (err += d.toString()));
    h.stdin.end("hello\n");
    expect(await h.exit).toBe(3);
    expect(out).toBe("HELLO\n");
    expect(err).toBe("oops\n");
    await expect(m.exec("999", ["true"])).rejects.toBeInstanceOf(SessionNotRunningError);
  });

  it("isolates sessions' networks from each other", async () => {
    await m.createSessionContainer({ sessionId: 104n, limits: LIMITS });
    await m.createSessionContainer({ sessionId: 105n, limits: LIMITS });
    const ipOf = async (id: string) => (await output(id, ["sh", "-c", "hostname -i"])).out.trim().split(/\s+/)[0] ?? "";
    const ip104 = await ipOf("104");
    expect(ip104).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const server = await m.exec("104", ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]);
    const probe = (from: string) =>
      output(from, [
        "python3",
        "-c",
        `import urllib.request,sys,time
for i in range(30):
  try: print(urllib.request.urlopen("http://${ip104}:8000/", timeout=1).status); sys.exit(0)
  except Exception as e: err=e; time.sleep(0.1)
print(err); sys.exit(1)`,
      ]);
    const self = await probe("104");
    expect(self.out.trim(), "own network reaches itself").toBe("200");
    const other = await output("105", [
      "python3",
      "-c",
      `import urllib.request
try: urllib.request.urlopen("http://${ip104}:8000/", timeout=1); print("reached")
except Exception as e: print("blocked", e)`,
    ]);
    expect(other.out, "another session cannot reach it").toMatch(/^blocked/);
    await server.kill("SIGKILL");
    server.close();
  });

  it("runs job containers in the session: ports on 127.0.0.1, logs, volumes, stop, ownership", async () => {
    await m.createSessionContainer({ sessionId: 106n, limits: LIMITS });
    // A file written in the session container's /workspace/data is visible to the job through its volume.
    await output("106", ["sh", "-c", "mkdir -p /workspace/data && echo from-session > /workspace/data/hello.txt"]);
    const job = await m.runContainer(
      106n,
      {
        image: SESSION_IMAGE,
        command: ["sh", "-c", "cat /data/hello.txt; echo to-stderr >&2; cd /data && exec python3 -m http.server 8000"],
        volumes: ["/data:/data"],
        ports: { "8000": 0 },
      },
      { limits: LIMITS },
    );
    expect(job).toMatchObject({ sessionId: "106", role: "job", running: true });
    const port = job.ports.find((p) => p.containerPort === 8000);
    expect(port?.hostIp).toBe("127.0.0.1");
    let body = "";
    for (let i = 0; i < 100 && !body; i++) {
      body = await httpGet(`http://127.0.0.1:${port?.hostPort}/hello.txt`);
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    expect(body).toBe("from-session\n");
    const logs = await m.logs(106n, job.id);
    expect(logs).toContain("from-session");
    expect(logs).toContain("to-stderr");
    expect((await m.listContainers(106n)).map((c) => c.id)).toEqual([job.id]);
    const ins = await m.docker.getContainer(job.id).inspect();
    expect(ins.HostConfig.Memory).toBe(LIMITS.memoryBytes);
    expect(ins.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(ins.HostConfig.NetworkMode).toBe("compute-s106");

    // Another session cannot see, read or stop it.
    await m.createSessionContainer({ sessionId: 107n, limits: LIMITS });
    await expect(m.logs(107n, job.id)).rejects.toBeInstanceOf(ContainerNotFoundError);
    await expect(m.stopContainer(107n, job.id)).rejects.toBeInstanceOf(ContainerNotFoundError);
    const sessionContainer = await m.findSessionContainer(106n);
    await expect(
      m.stopContainer(106n, sessionContainer?.id ?? ""),
      "the session container is not a job",
    ).rejects.toBeInstanceOf(ContainerNotFoundError);

    const stopped = await m.stopContainer(106n, job.id);
    expect(stopped.running).toBe(false);
    await m.removeContainer(106n, job.id);
    expect(await m.listContainers(106n)).toEqual([]);
  });

  it("refuses volumes outside the session dir (also through symlinks), bad ports and GPUs it does not have", async () => {
    await m.createSessionContainer({ sessionId: 108n, limits: LIMITS });
    const run = (req: Partial<Parameters<ContainerManager["runContainer"]>[1]>) =>
      m.runContainer(108n, { image: SESSION_IMAGE, command: ["true"], ...req }, { limits: LIMITS });
    for (const volumes of [["../../etc:/x"], ["/etc/../..:/x"], ["data:relative"], ["a:b:c:d"], ["data:/x:rwx"]]) {
      await expect(run({ volumes }), volumes[0]).rejects.toBeInstanceOf(InvalidContainerRequestError);
    }
    // A symlink made from inside the session container pointing at the host's / must not be followed.
    await output("108", ["sh", "-c", "ln -s / /workspace/escape"]);
    await expect(run({ volumes: ["/escape:/host"] })).rejects.toBeInstanceOf(InvalidContainerRequestError);
    await expect(run({ ports: { "80": 22 } }), "host port outside the range").rejects.toBeInstanceOf(
      InvalidContainerRequestError,
    );
    await expect(run({ ports: { abc: 0 } })).rejects.toBeInstanceOf(InvalidContainerRequestError);
    await expect(run({ gpus: 1 })).rejects.toBeInstanceOf(InvalidContainerRequestError);
    await expect(m.runContainer(555n, { image: SESSION_IMAGE }, { limits: LIMITS })).rejects.toBeInstanceOf(
      SessionNotRunningError,
    );
    expect(await m.listContainers(108n)).toEqual([]);
  });

  it("keeps containers from opening connections to the host itself (host guard)", async () => {
    expect(await ensureHostGuard(silentLogger)).toBe(true);
    await m.createSessionContainer({ sessionId: 110n, limits: LIMITS });
    const nets = await m.docker.listNetworks({ filters: { name: ["compute-s110"] } });
    const net = await m.docker.getNetwork(nets.find((n) => n.Name === "compute-s110")?.Id ?? "").inspect();
    expect(net.Options?.["com.docker.network.bridge.name"]).toBe("cmp110");
    const gateway = String(net.IPAM?.Config?.[0]?.Gateway);
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // A service on the host listening on every address, as a careless database or admin port would.
    const server = net_.createServer((sock) => sock.end("host secret\n"));
    await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
    const port = (server.address() as net_.AddressInfo).port;
    const hostIps = Object.entries(os.networkInterfaces())
      .filter(([name]) => !name.startsWith("cmp") && !name.startsWith("br-") && name !== "lo")
      .flatMap(([, addrs]) => (addrs ?? []).filter((a) => a.family === "IPv4").map((a) => a.address));
    const targets = [gateway, ...hostIps];
    const probe = () =>
      output("110", [
        "python3",
        "-c",
        `import socket
for host in ${JSON.stringify(targets)}:
  try:
    s = socket.create_connection((host, ${port}), timeout=2); print(host, "reached", s.recv(64).decode().strip())
  except Exception as e: print(host, "blocked", type(e).__name__)`,
      ]);
    try {
      const guarded = await probe();
      expect(guarded.out.trim().split("\n")).toEqual(targets.map((t) => `${t} blocked ConnectionRefusedError`));
      // Without the guard the same probe gets in: the test measures the rule, not an unreachable address.
      execFileSync("iptables", ["-w", "-D", "INPUT", "-i", "cmp+", "-j", GUARD_CHAIN]);
      try {
        const open = await probe();
        expect(open.out.trim().split("\n")[0]).toBe(`${gateway} reached host secret`);
      } finally {
        expect(await ensureHostGuard(silentLogger)).toBe(true);
      }
      expect((await probe()).out.trim().split("\n")[0]).toBe(`${gateway} blocked ConnectionRefusedError`);
    } finally {
      server.close();
    }
  });

  it("gives all of a session's containers one shared budget (parent cgroup with the session's limits)", async () => {
    const cg = await m.cgroups();
    expect(cg, "cgroupfs driver on a local dockerd: the shared budget is on").toBeDefined();
    await m.createSessionContainer({ sessionId: 111n, limits: LIMITS });
    expect(cg?.read("111")).toEqual(LIMITS);
    // 180 MiB held in the session container, then a job asks for another 180 MiB: each fits its own 256 MiB
    // limit, the pair does not fit the session's.
    const hog = (label: string) => `import time; b = b"x" * (180 << 20); print("${label}", flush=True); time.sleep(30)`;
    const held = await m.exec("111", ["python3", "-c", hog("held")]);
    let heldOut = "";
    held.stdout.on("data", (d: Buffer) => (heldOut += d.toString()));
    held.stdin.end();
    for (let i = 0; i < 100 && !heldOut.includes("held"); i++) await new Promise((r) => setTimeout(r, 100));
    expect(heldOut).toContain("held");
    const job = await m.runContainer(
      111n,
      { image: SESSION_IMAGE, command: ["python3", "-c", hog("allocated")] },
      { limits: LIMITS },
    );
    const inspect = await m.docker.getContainer(job.id).inspect();
    expect(inspect.HostConfig.CgroupParent).toBe("/compute/s111");
    // The kernel enforces the sum: one of the two is OOM-killed (exit 137), whichever it picks.
    const jobExit = m.docker
      .getContainer(job.id)
      .wait()
      .then((r: { StatusCode: number }) => r.StatusCode);
    const first = await Promise.race([
      held.exit.then((c) => ({ who: "session", code: c })),
      jobExit.then((c) => ({ who: "job", code: c })),
    ]);
    expect(first.code, `${first.who} was killed`).toBe(137);
    await held.kill("SIGKILL").catch(() => {});
    held.close();
    await m.removeSession(111n);
    expect(cg?.read("111"), "the parent cgroup goes with the session").toBeUndefined();
  }, 60_000);

  it("keeps nodes sharing one dockerd apart: same provider and session id, different instances", async () => {
    // Session ids are per chain and contract: two nodes (two chains, or a test and a dev node) meet on ids.
    const a = new ContainerManager({
      provider: PROVIDER,
      instance: "ci-a",
      volumesRoot: path.join(dir, "a"),
      defaultImage: SESSION_IMAGE,
    });
    const b = new ContainerManager({
      provider: PROVIDER,
      instance: "ci-b",
      volumesRoot: path.join(dir, "b"),
      defaultImage: SESSION_IMAGE,
    });
    try {
      const ca = await a.createSessionContainer({ sessionId: 112n, limits: LIMITS });
      const cb = await b.createSessionContainer({ sessionId: 112n, limits: LIMITS });
      expect(ca.id).not.toBe(cb.id);
      expect([ca.name, cb.name]).toEqual(["compute-ci-a-session-112", "compute-ci-b-session-112"]);
      expect(ca.labels).toMatchObject({ [LABEL_INSTANCE]: "ci-a", [LABEL_SESSION]: "112", [LABEL_PROVIDER]: PROVIDER });
      const [ia, ib] = await Promise.all([ca, cb].map((c) => m.docker.getContainer(c.id).inspect()));
      expect([ia?.HostConfig.NetworkMode, ib?.HostConfig.NetworkMode]).toEqual([
        "compute-ci-a-s112",
        "compute-ci-b-s112",
      ]);
      expect(a.bridgeName("112")).toMatch(/^cmp[0-9a-f]{12}$/);
      expect(a.bridgeName("112")).not.toBe(b.bridgeName("112"));
      if (ia?.HostConfig.CgroupParent) expect(ia.HostConfig.CgroupParent).not.toBe(ib?.HostConfig.CgroupParent);
      // Each sees only its own; the instance-less manager sees neither.
      expect((await a.listAll()).map((c) => c.id)).toEqual([ca.id]);
      expect((await b.findSessionContainer(112n))?.id).toBe(cb.id);
      expect(await m.findSessionContainer(112n)).toBeUndefined();
      expect((await m.listAll()).some((c) => c.sessionId === "112")).toBe(false);
      // Ending one node's session 112 leaves the other's running.
      await a.removeSession(112n, { deleteData: true });
      expect(await a.findSessionContainer(112n)).toBeUndefined();
      expect((await b.findSessionContainer(112n))?.running).toBe(true);
      await m.removeSession(112n);
      expect((await b.findSessionContainer(112n))?.running, "an instance-less manager removes nothing of b's").toBe(
        true,
      );
    } finally {
      await a.removeSession(112n).catch(() => {});
      await b.removeSession(112n).catch(() => {});
    }
    expect(() => new ContainerManager({ provider: PROVIDER, instance: "Bad Name", volumesRoot: dir })).toThrow(
      /instance must match/,
    );
  });

  it("removes a session: containers, jobs, network and data", async () => {
    await m.createSessionContainer({ sessionId: 109n, limits: LIMITS });
    await m.runContainer(109n, { image: SESSION_IMAGE, command: ["sleep", "300"] }, { limits: LIMITS });
    expect((await m.listAll(109n)).length).toBe(2);
    expect(fs.existsSync(m.sessionDir(109n))).toBe(true);
    await m.removeSession(109n, { deleteData: true });
    expect(await m.listAll(109n)).toEqual([]);
    expect(await m.findSessionContainer(109n)).toBeUndefined();
    const nets = await m.docker.listNetworks({ filters: { name: ["compute-s109"] } });
    expect(nets.filter((n) => n.Name === "compute-s109")).toEqual([]);
    expect(fs.existsSync(m.sessionDir(109n))).toBe(false);
    await m.removeSession(109n); // idempotent
  });
});
