import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SessionStateError, SessionStore } from "./store.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-store-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7nQ2fPMl5XxF3kOJqYg1yN4xYHq3y5Z6l8p9q0r1s2 me@x";
const base = { renter: "0x00000000000000000000000000000000000000aa", provider: "0xbb", sshPublicKey: KEY };

describe("SessionStore", () => {
  it("walks pending → provisioning → active → ended and records times", () => {
    let t = 1000;
    const s = new SessionStore(":memory:", { now: () => t++ });
    const { record, inserted } = s.insertPending({
      ...base,
      id: 1n,
      gpuCount: 1,
      createdBlock: 12n,
      createdTx: "0xtx",
    });
    expect(inserted).toBe(true);
    expect(record).toMatchObject({
      id: "1",
      username: "s1",
      status: "pending",
      gpuCount: 1,
      createdBlock: 12n,
      gpus: [],
    });
    const p = s.beginProvisioning(1n, () => ["0"]);
    expect(p).toMatchObject({ status: "provisioning", gpus: ["0"] });
    const a = s.markActive(1n, "c0ffee");
    expect(a).toMatchObject({ status: "active", containerId: "c0ffee" });
    expect(a.provisionedAt).not.toBeNull();
    expect(s.markActivatedOnChain(1n, "0xact", 5000).chainActivatedAt).not.toBeNull();
    expect(s.get(1n)?.expiresAt).toBe(5000);
    const e = s.markEnded(1n, "renter ended");
    expect(e).toMatchObject({ status: "ended", reason: "renter ended" });
    expect(s.markEnded(1n, "again").reason, "ending twice keeps the first reason").toBe("renter ended");
    expect(s.getByUsername("s1")?.id).toBe("1");
  });

  it("insertPending is idempotent (replayed events)", () => {
    const s = new SessionStore(":memory:");
    s.insertPending({ ...base, id: 5n });
    s.beginProvisioning(5n);
    const again = s.insertPending({ ...base, id: 5n, sshPublicKey: "other" });
    expect(again.inserted).toBe(false);
    expect(again.record).toMatchObject({ status: "provisioning", sshPublicKey: KEY });
  });

  it("refuses transitions the state machine does not have", () => {
    const s = new SessionStore(":memory:");
    s.insertPending({ ...base, id: 2n });
    expect(() => s.markActive(2n, "c"), "pending → active").toThrow(SessionStateError);
    s.markRejected(2n, "bad key");
    expect(() => s.beginProvisioning(2n), "rejected → provisioning").toThrow(SessionStateError);
    expect(s.markEnded(2n, "x").status, "rejected stays rejected").toBe("rejected");
    expect(() => s.beginProvisioning(99n), "missing").toThrow(SessionStateError);
  });

  it("hands out GPUs held by no other open session", () => {
    const s = new SessionStore(":memory:");
    for (const id of [1n, 2n]) s.insertPending({ ...base, id, gpuCount: 1 });
    const pick = (inUse: Set<string>) => ["0", "1"].filter((g) => !inUse.has(g)).slice(0, 1);
    expect(s.beginProvisioning(1n, pick).gpus).toEqual(["0"]);
    expect(s.beginProvisioning(2n, pick).gpus).toEqual(["1"]);
    expect([...s.gpusInUse()].sort()).toEqual(["0", "1"]);
    s.markEnded(1n, "done");
    expect([...s.gpusInUse()]).toEqual(["1"]);
    expect(s.countOpen()).toBe(1);
  });

  it("keeps state and the chain cursor across a reopen (crash mid-provisioning)", () => {
    const file = path.join(dir, "rentals.sqlite");
    const a = new SessionStore(file);
    a.insertPending({ ...base, id: 9n });
    a.beginProvisioning(9n);
    a.setCursor(123456789012345678901234567890n);
    // no close(): as if killed
    const b = new SessionStore(file);
    expect(b.get(9n)?.status).toBe("provisioning");
    expect(b.getCursor()).toBe(123456789012345678901234567890n);
    expect(b.list({ status: ["provisioning", "active"] }).map((r) => r.id)).toEqual(["9"]);
    expect(b.db.pragma("journal_mode", { simple: true })).toBe("wal");
    a.close();
    b.close();
  });

  it("names its instance once and keeps the name; a configured name wins and is kept", () => {
    const file = path.join(dir, "instance.sqlite");
    const a = new SessionStore(file);
    const name = a.instanceName();
    expect(name).toMatch(/^[0-9a-f]{8}$/);
    expect(a.instanceName(), "same store, same name").toBe(name);
    a.close();
    const b = new SessionStore(file);
    expect(b.instanceName(), "after a restart").toBe(name);
    expect(new SessionStore(":memory:").instanceName(), "another store, another name").not.toBe(name);
    expect(b.instanceName("gpu-box-1")).toBe("gpu-box-1");
    expect(b.instanceName(), "the configured name is kept").toBe("gpu-box-1");
    b.close();
  });
});
