/**
 * One resource budget per session, shared by all of its containers.
 *
 * Each container gets the session's limits (Memory, NanoCpus, PidsLimit), but a renter may also start job
 * containers; without a common parent, N containers could use N times what the session paid for. So every
 * container of a session is created with `CgroupParent: /compute/s<id>`, and this module gives that parent
 * cgroup the session's limits before any container starts: the kernel then caps the sum.
 *
 * Works with Docker's `cgroupfs` driver on the local machine (DOCKER_HOST unset or a unix socket), on cgroup
 * v1 (memory, cpu and pids hierarchies) and v2 (memory.max, memory.swap.max, cpu.max, pids.max). Anything
 * else (systemd driver, a remote dockerd, no permission) turns the shared budget off with a warning; each
 * container still has its own limits.
 */
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../logger.ts";

export type BudgetLimits = { memoryBytes: number; nanoCpus: number; pidsLimit: number };

const CFS_PERIOD_US = 100_000;

export type CgroupMode = "v1" | "v2";

export class SessionCgroups {
  readonly root: string;
  readonly mode: CgroupMode;
  readonly prefix: string;
  readonly #log: Logger;

  private constructor(root: string, mode: CgroupMode, prefix: string, log: Logger) {
    this.root = root;
    this.mode = mode;
    this.prefix = prefix;
    this.#log = log;
  }

  /**
   * The shared-budget manager for this machine, or undefined (with the reason logged) when Docker's cgroups
   * are not ours to shape.
   */
  static detect(opts: {
    cgroupDriver: string | undefined;
    log: Logger;
    root?: string;
    prefix?: string;
    dockerHost?: string;
  }): SessionCgroups | undefined {
    const root = opts.root ?? "/sys/fs/cgroup";
    const host = opts.dockerHost ?? process.env.DOCKER_HOST ?? "";
    const off = (reason: string) => {
      opts.log.warn(
        { reason },
        "shared session budget off: each container keeps its own limits, but a session's containers together are not capped",
      );
      return undefined;
    };
    if (host !== "" && !host.startsWith("unix://")) return off(`dockerd is remote (DOCKER_HOST=${host})`);
    if (opts.cgroupDriver !== "cgroupfs")
      return off(`Docker's cgroup driver is ${opts.cgroupDriver ?? "unknown"}, not cgroupfs`);
    let mode: CgroupMode;
    if (fs.existsSync(path.join(root, "cgroup.controllers"))) mode = "v2";
    else if (fs.existsSync(path.join(root, "memory")) && fs.existsSync(path.join(root, "pids"))) mode = "v1";
    else return off(`no cgroup hierarchy found under ${root}`);
    try {
      fs.accessSync(mode === "v2" ? root : path.join(root, "memory"), fs.constants.W_OK);
    } catch {
      return off(`${root} is not writable (run the node as root)`);
    }
    return new SessionCgroups(root, mode, opts.prefix ?? "compute", opts.log);
  }

  /** The CgroupParent Docker gets for the session's containers. */
  parentOf(sessionId: string): string {
    return `/${this.prefix}/s${sessionId}`;
  }

  /** Creates or updates the session's parent cgroup with `limits`. Returns the CgroupParent, or undefined if that failed. */
  ensure(sessionId: string, limits: BudgetLimits): string | undefined {
    const rel = path.join(this.prefix, `s${sessionId}`);
    try {
      if (this.mode === "v1") this.#ensureV1(rel, limits);
      else this.#ensureV2(rel, limits);
      return this.parentOf(sessionId);
    } catch (err) {
      this.#log.warn(
        { err, sessionId },
        "could not set the session's shared budget; its containers keep their own limits",
      );
      return undefined;
    }
  }

  /** Removes the session's parent cgroups (after its containers are gone). Best effort. */
  remove(sessionId: string): void {
    const rel = path.join(this.prefix, `s${sessionId}`);
    const dirs =
      this.mode === "v2"
        ? [path.join(this.root, rel)]
        : fs.readdirSync(this.root).map((c) => path.join(this.root, c, rel));
    for (const dir of dirs) {
      try {
        if (fs.existsSync(dir)) fs.rmdirSync(dir);
      } catch (err) {
        this.#log.debug({ err, dir }, "cgroup not removed");
      }
    }
  }

  /** The limits the kernel holds for a session (what tests and operators check). */
  read(sessionId: string): BudgetLimits | undefined {
    const rel = path.join(this.prefix, `s${sessionId}`);
    const get = (file: string) => fs.readFileSync(file, "utf8").trim();
    try {
      if (this.mode === "v1") {
        const quota = Number(get(path.join(this.#v1Dir("cpu"), rel, "cpu.cfs_quota_us")));
        const period = Number(get(path.join(this.#v1Dir("cpu"), rel, "cpu.cfs_period_us")));
        return {
          memoryBytes: Number(get(path.join(this.root, "memory", rel, "memory.limit_in_bytes"))),
          nanoCpus: Math.round((quota / period) * 1e9),
          pidsLimit: Number(get(path.join(this.root, "pids", rel, "pids.max"))),
        };
      }
      const dir = path.join(this.root, rel);
      const [quota, period] = get(path.join(dir, "cpu.max")).split(" ").map(Number);
      return {
        memoryBytes: Number(get(path.join(dir, "memory.max"))),
        nanoCpus: Math.round(((quota ?? 0) / (period ?? CFS_PERIOD_US)) * 1e9),
        pidsLimit: Number(get(path.join(dir, "pids.max"))),
      };
    } catch {
      return undefined;
    }
  }

  /** v1: the cpu controller may be mounted as `cpu,cpuacct` with `cpu` a symlink; both resolve here. */
  #v1Dir(controller: string): string {
    return path.join(this.root, controller);
  }

  #ensureV1(rel: string, limits: BudgetLimits): void {
    // Only the controllers we limit are created here; runc creates the parent in the others (cpuset needs
    // cpus/mems copied from its parent, which runc does and a bare mkdir would not).
    const mem = path.join(this.root, "memory", rel);
    const cpu = path.join(this.#v1Dir("cpu"), rel);
    const pids = path.join(this.root, "pids", rel);
    for (const d of [mem, cpu, pids]) fs.mkdirSync(d, { recursive: true });
    const memsw = path.join(mem, "memory.memsw.limit_in_bytes");
    // memsw (memory + swap) must never be below the memory limit: when growing raise memsw first, when
    // shrinking lower the memory limit first. Equal values: no swap, as for the containers themselves.
    const current = Number(fs.readFileSync(path.join(mem, "memory.limit_in_bytes"), "utf8"));
    const order =
      limits.memoryBytes > current
        ? ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
        : ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"];
    for (const file of order) {
      if (file === "memory.memsw.limit_in_bytes" && !fs.existsSync(memsw)) continue;
      fs.writeFileSync(path.join(mem, file), String(limits.memoryBytes));
    }
    fs.writeFileSync(path.join(cpu, "cpu.cfs_period_us"), String(CFS_PERIOD_US));
    fs.writeFileSync(
      path.join(cpu, "cpu.cfs_quota_us"),
      String(Math.max(1000, Math.round((limits.nanoCpus / 1e9) * CFS_PERIOD_US))),
    );
    fs.writeFileSync(path.join(pids, "pids.max"), String(limits.pidsLimit));
  }

  #ensureV2(rel: string, limits: BudgetLimits): void {
    const parts = rel.split(path.sep);
    let dir = this.root;
    // Each level must hand the controllers down to its children.
    for (const part of parts) {
      fs.writeFileSync(path.join(dir, "cgroup.subtree_control"), "+memory +cpu +pids");
      dir = path.join(dir, part);
      fs.mkdirSync(dir, { recursive: true });
    }
    fs.writeFileSync(path.join(dir, "memory.max"), String(limits.memoryBytes));
    if (fs.existsSync(path.join(dir, "memory.swap.max"))) fs.writeFileSync(path.join(dir, "memory.swap.max"), "0");
    fs.writeFileSync(
      path.join(dir, "cpu.max"),
      `${Math.max(1000, Math.round((limits.nanoCpus / 1e9) * CFS_PERIOD_US))} ${CFS_PERIOD_US}`,
    );
    fs.writeFileSync(path.join(dir, "pids.max"), String(limits.pidsLimit));
    fs.writeFileSync(path.join(dir, "cgroup.subtree_control"), "+memory +cpu +pids");
  }
}
