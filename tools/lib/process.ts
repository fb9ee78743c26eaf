/**
 * Child processes that can be stopped completely: each one leads its own process group (`detached`), so
 * stopping it signals the whole group (tsx wrappers, ponder workers, shells) and nothing is left behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

export type StartOptions = {
  /** Short name for messages. */
  name: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Append stdout and stderr to this file. */
  logFile?: string;
  /** Called with each output line (stdout and stderr). */
  onLine?: (line: string) => void;
};

export class ManagedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private tail: string[] = [];
  private log: WriteStream | undefined;

  constructor(command: string, args: string[], opts: StartOptions) {
    this.name = opts.name;
    this.log = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
    this.child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const onData = (buf: Buffer) => {
      this.log?.write(buf);
      for (const line of buf.toString("utf8").split("\n")) {
        if (line === "") continue;
        this.tail.push(line);
        if (this.tail.length > 200) this.tail.shift();
        opts.onLine?.(line);
      }
    };
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once("error", (err) => {
        this.tail.push(String(err));
        this.exitInfo = { code: -1, signal: null };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last lines of output (for error messages). */
  output(lines = 40): string {
    return this.tail.slice(-lines).join("\n");
  }

  /** Signals the whole process group. */
  signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // The group is gone already.
    }
  }

  /**
   * SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader exited and no process of the
   * group is left.
   */
  async stop(graceMs = 5_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (this.running || groupAlive(pid)) {
      this.signal("SIGTERM");
      const deadline = Date.now() + graceMs;
      while ((this.running || groupAlive(pid)) && Date.now() < deadline) await sleep(50);
      if (this.running || groupAlive(pid)) {
        this.signal("SIGKILL");
        await Promise.race([this.exited, sleep(2_000)]);
        const killDeadline = Date.now() + 2_000;
        while (groupAlive(pid) && Date.now() < killDeadline) await sleep(50);
      }
    }
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
  }
}

/** Whether any process of group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function start(command: string, args: string[], opts: StartOptions): ManagedProcess {
  return new ManagedProcess(command, args, opts);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  {
    timeoutMs = 30_000,
    intervalMs = 100,
    proc,
  }: { timeoutMs?: number; intervalMs?: number; proc?: ManagedProcess } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    if (proc !== undefined && !proc.running) {
      throw new Error(`${proc.name} exited while waiting for ${what}:\n${proc.output()}`);
    }
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const tail = proc ? `\n--- ${proc.name} output ---\n${proc.output()}` : "";
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (${String(lastErr)})` : ""}${tail}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** GET `url` until it answers 2xx. */
export function waitForHttp(url: string, opts?: { timeoutMs?: number; proc?: ManagedProcess }): Promise<true> {
  return waitFor(
    url,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.ok;
    },
    { intervalMs: 100, ...opts },
  );
}
