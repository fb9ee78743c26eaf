/**
 * Docker for the rentals tests: the private dockerd from tools/docker/dockerd.sh and the session image from
 * tools/docker/build-base-image.sh (cached by recipe hash, so a warm run costs ~0.1 s).
 *
 * Use either as a vitest globalSetup (`globalSetup: ["node/src/rentals/test-setup.ts"]`: starts dockerd,
 * builds the image, stops dockerd at the end if it started it) or per file with
 * `beforeAll(ensureDocker)` (idempotent; leaves dockerd running for the next file).
 *
 * When the `dockerd` binary is absent the tests skip, loudly. Anything else that fails is a test failure.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const DOCKERD_SH = path.join(REPO_ROOT, "tools/docker/dockerd.sh");
const BUILD_SH = path.join(REPO_ROOT, "tools/docker/build-base-image.sh");
export const SESSION_IMAGE = "compute/session:latest";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function which(bin: string): boolean {
  return (process.env.PATH ?? "/usr/sbin:/usr/bin")
    .split(":")
    .concat(["/usr/sbin", "/usr/bin"])
    .some((d) => fs.existsSync(path.join(d, bin)));
}

/** Why docker tests cannot run here, or undefined when they can. */
export function dockerUnavailableReason(): string | undefined {
  if (!which("dockerd")) return "the dockerd binary is absent (apt-get install -y docker.io)";
  return undefined;
}

let ensured: Promise<string> | undefined;

/** Starts the private dockerd (if needed), builds the session image (if needed), sets DOCKER_HOST. */
export function ensureDocker(): Promise<string> {
  ensured ??= (async () => {
    const reason = dockerUnavailableReason();
    if (reason) throw new Error(`docker unavailable: ${reason}`);
    const out = await run(DOCKERD_SH, ["start"]);
    const host = /DOCKER_HOST=(\S+)/.exec(out)?.[1];
    if (!host) throw new Error(`dockerd.sh start printed no DOCKER_HOST: ${out}`);
    process.env.DOCKER_HOST = host;
    await run(BUILD_SH, [], { ...process.env, DOCKER_HOST: host });
    return host;
  })();
  return ensured;
}

/** Prints the loud skip banner once per file and returns true when the docker tests must skip. */
export function skipWithoutDocker(): boolean {
  const reason = dockerUnavailableReason();
  if (reason) {
    console.warn(`\n${"!".repeat(100)}\n!! SKIPPING docker/SSH rental tests: ${reason}\n${"!".repeat(100)}\n`);
    return true;
  }
  return false;
}

let startedHere = false;

// vitest globalSetup
export async function setup(): Promise<void> {
  if (dockerUnavailableReason()) {
    skipWithoutDocker();
    return;
  }
  const wasRunning = await run(DOCKERD_SH, ["status"]).then(
    () => true,
    () => false,
  );
  await ensureDocker();
  startedHere = !wasRunning;
}

export async function teardown(): Promise<void> {
  if (startedHere) await run(DOCKERD_SH, ["stop"]);
}
