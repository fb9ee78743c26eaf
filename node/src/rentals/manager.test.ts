import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerManager } from "./containers.ts";
import { RentalManager } from "./manager.ts";
import { SessionStore } from "./store.ts";
import { SESSION_IMAGE, ensureDocker, skipWithoutDocker } from "./test-setup.ts";

const skip = skipWithoutDocker();
// Own provider label and session ids 301–399.
const PROVIDER = "0xtest-manager";
const LIMITS = { memoryBytes: 128 * 1024 * 1024, nanoCpus: 250_000_000, pidsLimit: 64 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-manager-"));
let key = "";

function manager(
  db: string,
  opts: { maxRentals?: number; gpus?: { id: string; uuid: string; name: string; memoryMiB: number }[] } = {},
) {
  const containers = new ContainerManager({
    provider: PROVIDER,
    volumesRoot: path.join(dir, "vols"),
    defaultImage: SESSION_IMAGE,
  });
  return new RentalManager({
    store: new SessionStore(db),
    containers,
    maxRentals: opts.maxRentals ?? 4,
    limits: LIMITS,
    gpus: opts.gpus,
  });
}
const session = (id: bigint, extra: { gpuCount?: number; sshPublicKey?: string } = {}) => ({
  id,
  renter: "0xrenter",
  provider: PROVIDER,
  sshPublicKey: key,
  ...extra,
});

describe.skipIf(skip)("RentalManager (real dockerd)", () => {
  beforeAll(async () => {
    await ensureDocker();
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
    key = fs.readFileSync(path.join(dir, "k.pub"), "utf8");
    const m = manager(":memory:");
    for (const c of await m.containers.listAll()) await m.containers.removeSession(c.sessionId);
  });
  afterAll(async () => {
    const m = manager(":memory:");
    for (const c of await m.containers.listAll()) await m.containers.removeSession(c.sessionId);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("provisions exactly once, also when the event is replayed", async () => {
    const m = manager(":memory:");
    const first = await m.provision(session(301n));
    expect(first).toMatchObject({ status: "active", created: true });
    const again = await m.provision(session(301n));
    expect(again).toMatchObject({ status: "active", created: false });
    expect(again.session.containerId).toBe(first.session.containerId);
    expect((await m.containers.listAll(301n)).length).toBe(1);
    expect(m.lookupSshSession("s301")).toMatchObject({ sessionId: "301", active: true });
  });

  it("resumes after a crash between the recorded intent and docker create, with one container", async () => {
    const db = path.join(dir, "crash.sqlite");
    const before = manager(db);
    before.store.insertPending(session(302n));
    before.store.beginProvisioning(302n); // intent committed, then the process dies before docker create
    // (and a second variant: the container was created but the process died before markActive)
    before.store.insertPending(session(303n));
    before.store.beginProvisioning(303n);
    await before.containers.createSessionContainer({ sessionId: 303n, limits: LIMITS });

    const after = manager(db); // restart
    const res = await after.reconcile();
    expect(res.resumed.sort()).toEqual(["302", "303"]);
    for (const id of [302n, 303n]) {
      expect(after.store.get(id)?.status).toBe("active");
      const all = await after.containers.listAll(id);
      expect(all.length, `session ${id} has exactly one container`).toBe(1);
      expect(after.store.get(id)?.containerId).toBe(all[0]?.id);
    }
    expect(after.pendingChainActivation().map((s) => s.id)).toEqual(["302", "303"]);
    after.store.markActivatedOnChain(302n, "0xtx");
    expect(after.pendingChainActivation().map((s) => s.id)).toEqual(["303"]);
  });

  it("rejects bad keys, full capacity and missing GPUs with a reason; ends idempotently; removes strays", async () => {
    const m = manager(":memory:", { maxRentals: 1 });
    const bad = await m.provision(session(310n, { sshPublicKey: "ssh-rsa not-a-key" }));
    expect(bad).toMatchObject({ status: "rejected" });
    expect(bad.status === "rejected" && bad.reason).toMatch(/invalid ssh key/);
    const gpu = await m.provision(session(311n, { gpuCount: 1 }));
    expect(gpu.status === "rejected" && gpu.reason).toMatch(/GPU/);
    expect((await m.provision(session(312n))).status).toBe("active");
    const full = await m.provision(session(313n));
    expect(full.status === "rejected" && full.reason).toMatch(/maximum of 1/);
    expect(await m.containers.listAll(313n)).toEqual([]);

    const ended = await m.end(312n, "renter ended");
    expect(ended?.status).toBe("ended");
    expect(await m.containers.listAll(312n)).toEqual([]);
    expect((await m.end(312n, "twice"))?.reason).toBe("renter ended");
    expect((await m.provision(session(312n))).status, "a replayed create for an ended session stays ended").toBe(
      "ended",
    );

    // A container nobody in the store knows about (or an ended session's) is removed by reconcile.
    await m.containers.createSessionContainer({ sessionId: 314n, limits: LIMITS });
    expect((await m.reconcile()).removed).toContain("314");
    expect(await m.containers.listAll(314n)).toEqual([]);
  });
});
