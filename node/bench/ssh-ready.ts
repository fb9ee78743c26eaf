/**
 * Benchmark: session container create+start → `ssh … true` succeeds (real dockerd, real OpenSSH client).
 *
 *   tsx node/bench/ssh-ready.ts [runs=5]
 *
 * Starts the private dockerd and builds the session image if needed (tools/docker/*). Each run provisions a
 * fresh session through RentalManager (store → container → active) and retries `ssh -p PORT sN@127.0.0.1
 * true` until it exits 0. Prints each run and the p50.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ContainerManager } from "../src/rentals/containers.ts";
import { RentalManager } from "../src/rentals/manager.ts";
import { SessionStore } from "../src/rentals/store.ts";
import { SESSION_IMAGE, ensureDocker } from "../src/rentals/test-setup.ts";
import { usernameForSession } from "@jeju/compute-sdk/ssh/keys";
import { SshServer } from "../src/ssh/server.ts";

const runs = Number(process.argv[2] ?? 5);
await ensureDocker();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-bench-"));
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
const key = fs.readFileSync(path.join(dir, "k.pub"), "utf8");
const containers = new ContainerManager({
  provider: "0xbench",
  volumesRoot: path.join(dir, "vols"),
  defaultImage: SESSION_IMAGE,
});
for (const c of await containers.listAll()) await containers.removeSession(c.sessionId);
const rentals = new RentalManager({
  store: new SessionStore(":memory:"),
  containers,
  maxRentals: runs + 1,
  limits: { memoryBytes: 256 * 1024 * 1024, nanoCpus: 1_000_000_000, pidsLimit: 256 },
});
const server = new SshServer({
  sessions: rentals,
  containers,
  port: 0,
  host: "127.0.0.1",
  dataDir: path.join(dir, "data"),
});
rentals.attachSsh((id) => server.revoke(id));
const port = await server.listen();

const ms: number[] = [];
for (let i = 1; i <= runs; i++) {
  const id = BigInt(900 + i);
  const t0 = performance.now();
  await rentals.provision({ id, renter: "0xrenter", provider: "0xbench", sshPublicKey: key });
  const tProvisioned = performance.now();
  let ok = false;
  for (let attempt = 0; attempt < 100 && !ok; attempt++) {
    // Async: the SSH server runs in this process.
    const status = await new Promise<number | null>((resolve) => {
      const p = spawn(
        "ssh",
        [
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
          "-p",
          String(port),
          "-i",
          path.join(dir, "k"),
          `${usernameForSession(id)}@127.0.0.1`,
          "true",
        ],
        { stdio: "ignore" },
      );
      p.on("close", resolve);
    });
    ok = status === 0;
  }
  const t1 = performance.now();
  if (!ok) throw new Error(`run ${i}: ssh never succeeded`);
  ms.push(t1 - t0);
  console.log(
    `run ${i}: provision ${(tProvisioned - t0).toFixed(0)} ms, ssh true ${(t1 - tProvisioned).toFixed(0)} ms, total ${(t1 - t0).toFixed(0)} ms`,
  );
}
const sorted = [...ms].sort((a, b) => a - b);
console.log(
  `ssh-ready p50 ${sorted[Math.floor((sorted.length - 1) / 2)]?.toFixed(0)} ms over ${runs} runs (min ${sorted[0]?.toFixed(0)}, max ${sorted.at(-1)?.toFixed(0)})`,
);
await server.close();
for (let i = 1; i <= runs; i++) await rentals.end(BigInt(900 + i), "bench done");
fs.rmSync(dir, { recursive: true, force: true });
