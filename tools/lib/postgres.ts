/**
 * A throw-away Postgres cluster for tests and benchmarks: initdb + pg_ctl in a temp dir, on a free loopback
 * port, trust auth, superuser `postgres`. Uses Debian's postgresql 15 binaries (`apt-get install postgresql`)
 * or `PG_BIN`. As root it runs the server as the `postgres` system user (initdb refuses root).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "./ports.ts";

export const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";

export type Postgres = { url: string; port: number; dir: string; stop(): Promise<void> };

export function postgresAvailable(): boolean {
  return existsSync(path.join(PG_BIN, "initdb")) && existsSync(path.join(PG_BIN, "pg_ctl"));
}

function exec(file: string, args: string[], asPostgres: boolean): Promise<string> {
  const [cmd, argv] = asPostgres ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: 60_000, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

async function pgUid(): Promise<{ uid: number; gid: number }> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile("id", ["postgres"], { encoding: "utf8" }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const uid = Number(/uid=(\d+)/.exec(out)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(out)?.[1]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot parse \`id postgres\`: ${out}`);
  return { uid, gid };
}

export async function startPostgres({ database = "compute" }: { database?: string } = {}): Promise<Postgres> {
  if (!postgresAvailable()) {
    throw new Error(`Postgres binaries not found in ${PG_BIN}: apt-get install -y postgresql (or set PG_BIN)`);
  }
  const asPostgres = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), "compute-pg-"));
  if (asPostgres) {
    const { uid, gid } = await pgUid();
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const data = path.join(dir, "data");
  const port = await freePort();
  await exec(
    path.join(PG_BIN, "initdb"),
    ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
    asPostgres,
  );
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  await exec(
    path.join(PG_BIN, "pg_ctl"),
    ["-D", data, "-o", opts, "-l", path.join(dir, "postgres.log"), "-w", "-t", "60", "start"],
    asPostgres,
  );
  const stop = async () => {
    await exec(path.join(PG_BIN, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], asPostgres).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await exec(
      path.join(PG_BIN, "createdb"),
      ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", database],
      asPostgres,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgresql://postgres@127.0.0.1:${port}/${database}`, port, dir, stop };
}
