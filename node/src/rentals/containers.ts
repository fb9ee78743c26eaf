/**
 * Session containers over the Docker Engine API (dockerode, `DOCKER_HOST`).
 *
 * One *session container* per rental (name `compute-<instance>-session-<id>`, label `compute.role=session`), created
 * idempotently: found by label before any create, and Docker's unique container names make a concurrent or
 * repeated create fail with 409 instead of making a second one. The renter's SSH sessions are `docker exec`s in
 * it. Renters can run extra *job* containers (the docs' containers API) inside the session's allowance; they
 * share the session's network and its host directory, and carry the same labels.
 *
 * Everything this manager makes carries its provider and instance labels and is found only through them, so
 * several nodes share one dockerd without seeing each other's sessions (see `instance`).
 *
 * Isolation: every session gets its own user-defined bridge network `compute-<instance>-s<id>` (Docker's
 * DOCKER-ISOLATION iptables chains drop traffic between bridges, so no session reaches another's
 * containers; a session's own containers reach each other by name). Published ports bind `publishHost`
 * (127.0.0.1). Bridges are named `cmp…` so that the host guard (hostguard.ts) keeps containers from
 * opening connections to the host itself. `networkMode: "none"` gives containers no network at all (SSH still works: it is an exec).
 * Containers run with `Init`, `no-new-privileges`, all capabilities dropped but a short list apt/pip need,
 * memory (no swap), CPU and pids limits (each container, and all of a session's containers together under one
 * parent cgroup: cgroups.ts), and GPUs only through DeviceRequests naming the session's devices.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PassThrough, Writable, type Readable } from "node:stream";
import Docker from "dockerode";
import { silentLogger, type Logger } from "../logger.ts";
import { normalizeSessionId } from "@jeju/compute-sdk/ssh/keys";
import {
  ContainerNotFoundError,
  DockerError,
  InvalidContainerRequestError,
  SessionNotRunningError,
  dockerStatus,
} from "./errors.ts";
import { SessionCgroups } from "./cgroups.ts";
import { BRIDGE_PREFIX } from "./hostguard.ts";

export const LABEL_SESSION = "compute.session";
export const LABEL_PROVIDER = "compute.provider";
export const LABEL_ROLE = "compute.role";
export const LABEL_MANAGED = "compute.managed";
export const LABEL_INSTANCE = "compute.instance";

/** What an instance name may be: it ends up in container, network and cgroup names. */
export const INSTANCE_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export type ContainerRole = "session" | "job";

export type ResourceLimits = {
  /** Hard memory limit in bytes (swap disabled: MemorySwap = Memory). */
  memoryBytes: number;
  /** CPU quota in units of 1e-9 CPUs (1 CPU = 1_000_000_000). */
  nanoCpus: number;
  /** Max processes/threads in the container. */
  pidsLimit: number;
};

/** Capabilities kept after `CapDrop: ["ALL"]`: enough for apt, pip, chown'ing files and binding :80. */
export const DEFAULT_CAP_ADD = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "NET_BIND_SERVICE",
] as const;

export type ContainerManagerOptions = {
  /** Default: `new Docker()`, which follows DOCKER_HOST. */
  docker?: Docker;
  /** This provider's address; label `compute.provider` on everything we make. */
  provider: string;
  /**
   * This node's name on a shared dockerd (label `compute.instance`, and part of every container, network,
   * bridge and cgroup name). Session ids are only unique per chain and contract, so two nodes on one Docker
   * host (two chains, a test and a dev node, the same key on two networks) must not see, adopt or remove each
   * other's containers. Empty (default): the plain names and no instance label.
   */
  instance?: string;
  /** Image for session containers when the spec names none (default `compute/session:latest`). */
  defaultImage?: string;
  /** Parent of the per-session host directories (mounted at `/workspace`). */
  volumesRoot: string;
  /** `bridge` (default): a private bridge network per session. `none`: no network. */
  networkMode?: "bridge" | "none";
  /** Let containers reach outside networks (default true; false makes the session network `Internal`). */
  egress?: boolean;
  /** Host address published ports bind (default 127.0.0.1). */
  publishHost?: string;
  /** Host ports a job may ask for; 0 always means "any free port". Default 20000–29999. */
  hostPortRange?: { min: number; max: number };
  /** Max job containers per session (default 8). */
  maxJobsPerSession?: number;
  capAdd?: readonly string[];
  /** Seconds `docker stop` waits before SIGKILL (default 3). */
  stopTimeoutSec?: number;
  /**
   * One budget for all of a session's containers (cgroups.ts): "auto" (default) when Docker's cgroups are
   * local and cgroupfs-driven, false to give each container only its own limits.
   */
  sharedBudget?: "auto" | false;
  logger?: Logger;
};

export type SessionContainerSpec = {
  sessionId: bigint | number | string;
  /** Default: the manager's defaultImage. */
  image?: string;
  limits: ResourceLimits;
  /** GPU device ids given to this session (nvidia-smi indices). Empty/undefined: no GPUs. */
  gpus?: readonly string[];
  env?: Record<string, string>;
};

export type ContainerInfo = {
  id: string;
  name: string;
  sessionId: string;
  role: ContainerRole;
  image: string;
  /** Docker state: created, running, exited, … */
  state: string;
  status: string;
  running: boolean;
  createdAt: number;
  ports: { containerPort: number; protocol: string; hostIp: string; hostPort: number }[];
  labels: Record<string, string>;
};

/** The docs' containers-API body, parsed. */
export type RunContainerRequest = {
  image: string;
  command?: string[];
  /** "all" of the session's GPUs, or a count ≤ the session's. */
  gpus?: "all" | number;
  /** `"src:dst"` or `"src:dst:ro"`; src names a directory inside the session's host dir. */
  volumes?: string[];
  /** container port (optionally `/tcp`, `/udp`) → host port (0: any free port). */
  ports?: Record<string, number>;
  env?: Record<string, string>;
};

export type ExecOptions = {
  tty?: boolean;
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
  user?: string;
  workingDir?: string;
};

/** A process running inside a session container. */
export type ExecHandle = {
  /** Process stdin; `end()` closes it (EOF; ignored with a tty). */
  stdin: Writable;
  stdout: Readable;
  /** Empty with a tty (the tty merges stderr into stdout). */
  stderr: Readable;
  resize(cols: number, rows: number): Promise<void>;
  /**
   * Resolves with the exit code once the process ended and dockerd closed the stream (stdout/stderr have all
   * their data by then; wait for their 'end' before reporting the exit); -1 if unknown.
   */
  exit: Promise<number>;
  /** Signals the process (best effort: needs the node in the host's pid namespace, as root). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Drops the stream to dockerd (the process keeps running unless signalled). */
  close(): void;
};

/** What the SSH server needs from containers: run a process in a session's container. */
export interface ExecTarget {
  exec(sessionId: string, cmd: string[], opts?: ExecOptions): Promise<ExecHandle>;
}

// Keeps a session container alive under docker-init with any image that has /bin/sh (GNU `sleep infinity`
// is not everywhere); exits 0 on SIGTERM so `docker stop` is quick.
const KEEPALIVE = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"];

export class ContainerManager implements ExecTarget {
  readonly docker: Docker;
  readonly provider: string;
  readonly instance: string;
  readonly defaultImage: string;
  readonly volumesRoot: string;
  readonly networkMode: "bridge" | "none";
  readonly egress: boolean;
  readonly publishHost: string;
  readonly hostPortRange: { min: number; max: number };
  readonly maxJobsPerSession: number;
  readonly capAdd: readonly string[];
  readonly stopTimeoutSec: number;
  private readonly log: Logger;
  /** Per-session serialization of create/remove within this process. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly sharedBudget: "auto" | false;
  private cgroupsReady: Promise<SessionCgroups | undefined> | undefined;

  constructor(opts: ContainerManagerOptions) {
    this.docker = opts.docker ?? new Docker();
    this.provider = opts.provider;
    this.instance = opts.instance ?? "";
    if (this.instance !== "" && !INSTANCE_PATTERN.test(this.instance)) {
      throw new Error(`instance must match ${INSTANCE_PATTERN} (got ${JSON.stringify(this.instance)})`);
    }
    this.defaultImage = opts.defaultImage ?? "compute/session:latest";
    this.volumesRoot = path.resolve(opts.volumesRoot);
    this.networkMode = opts.networkMode ?? "bridge";
    this.egress = opts.egress ?? true;
    this.publishHost = opts.publishHost ?? "127.0.0.1";
    this.hostPortRange = opts.hostPortRange ?? { min: 20000, max: 29999 };
    this.maxJobsPerSession = opts.maxJobsPerSession ?? 8;
    this.capAdd = opts.capAdd ?? DEFAULT_CAP_ADD;
    this.stopTimeoutSec = opts.stopTimeoutSec ?? 3;
    this.sharedBudget = opts.sharedBudget ?? "auto";
    this.log = (opts.logger ?? silentLogger).child({ component: "containers" });
  }

  /** Throws {@link DockerError} when dockerd does not answer. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new DockerError(`dockerd does not answer (DOCKER_HOST=${process.env.DOCKER_HOST ?? "default"})`, {
        cause: err,
      });
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (dockerStatus(err) === 404) return false;
      throw wrap(err, `inspect image ${image}`);
    }
  }

  /** Makes `image` available locally: already there, or pulled from its registry. */
  async ensureImage(image: string): Promise<void> {
    if (await this.imageExists(image)) return;
    this.log.info({ image }, "pulling image");
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      if (dockerStatus(err) === 404) throw new InvalidContainerRequestError(`image ${image} not found`, "image");
      throw wrap(err, `pull ${image}`);
    }
  }

  /** The shared-budget manager, detected once from dockerd's cgroup driver (undefined when off). */
  cgroups(): Promise<SessionCgroups | undefined> {
    if (this.sharedBudget === false) return Promise.resolve(undefined);
    this.cgroupsReady ??= this.docker
      .info()
      .then((info: { CgroupDriver?: string }) =>
        SessionCgroups.detect({ cgroupDriver: info.CgroupDriver, log: this.log }),
      )
      .catch((err: unknown) => {
        this.cgroupsReady = undefined;
        throw wrap(err, "docker info");
      });
    return this.cgroupsReady;
  }

  /** The CgroupParent for a session's containers, its budget set to `limits` (undefined: no shared budget). */
  private async budgetParent(sessionId: string, limits: ResourceLimits): Promise<string | undefined> {
    const cg = await this.cgroups();
    return cg?.ensure(this.hostKey(sessionId), limits);
  }

  /** Docker's name for the session container: `compute-session-<id>`, `compute-<instance>-session-<id>`. */
  containerName(sessionId: string): string {
    return this.instance === "" ? `compute-session-${sessionId}` : `compute-${this.instance}-session-${sessionId}`;
  }

  /** The session's network: `compute-s<id>`, `compute-<instance>-s<id>`. */
  networkName(sessionId: string): string {
    return this.instance === "" ? `compute-s${sessionId}` : `compute-${this.instance}-s${sessionId}`;
  }

  /**
   * The Linux bridge of a session's network: `cmp<id>`, or `cmp` and a hash of the instance and id (interface
   * names are host-wide and at most 15 characters). The shared prefix lets one host-guard rule cover every
   * session (hostguard.ts).
   */
  bridgeName(sessionId: string): string {
    const plain = `${BRIDGE_PREFIX}${sessionId}`;
    if (this.instance === "" && plain.length <= 15) return plain;
    const key = this.instance === "" ? sessionId : `${this.instance}:${sessionId}`;
    return `${BRIDGE_PREFIX}${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
  }

  /** The session's key in host-wide names (the shared-budget cgroup): the id, or `<instance>-<id>`. */
  private hostKey(sessionId: string): string {
    return this.instance === "" ? sessionId : `${this.instance}-${sessionId}`;
  }

  /** The session's host directory (created on demand), mounted at `/workspace` in its containers. */
  sessionDir(sessionId: bigint | number | string): string {
    return path.join(this.volumesRoot, normalizeSessionId(sessionId));
  }

  /**
   * Creates and starts the session container, or returns the existing one (started if it was stopped).
   * Safe to call again after a crash at any point: the first step is a look-up by label, and Docker refuses a
   * second container with the same name.
   */
  async createSessionContainer(spec: SessionContainerSpec): Promise<ContainerInfo> {
    const sessionId = normalizeSessionId(spec.sessionId);
    return this.withLock(sessionId, async () => {
      let info = await this.findSessionContainer(sessionId);
      if (!info) {
        const image = spec.image ?? this.defaultImage;
        await this.ensureImage(image);
        const networkMode = await this.ensureNetwork(sessionId);
        const hostDir = this.ensureSessionDir(sessionId);
        const name = this.containerName(sessionId);
        const cgroupParent = await this.budgetParent(sessionId, spec.limits);
        try {
          await this.docker.createContainer({
            name,
            Image: image,
            Entrypoint: KEEPALIVE.slice(0, 1),
            Cmd: KEEPALIVE.slice(1),
            Env: envList(spec.env),
            Labels: this.labels(sessionId, "session"),
            WorkingDir: "/workspace",
            HostConfig: {
              ...this.securityConfig(spec.limits, spec.gpus ?? []),
              ...(cgroupParent !== undefined ? { CgroupParent: cgroupParent } : {}),
              NetworkMode: networkMode,
              Binds: [`${hostDir}:/workspace`],
              RestartPolicy: { Name: "unless-stopped" },
            },
          });
          this.log.info({ sessionId, name, image }, "session container created");
        } catch (err) {
          // 409: a container with this name exists (created by an earlier attempt we did not see finish).
          if (dockerStatus(err) !== 409) throw wrap(err, `create session container ${sessionId}`);
        }
        info = await this.findSessionContainer(sessionId);
        if (!info) throw new DockerError(`session container ${name} vanished right after create`);
      }
      if (!info.running) {
        await this.startContainer(info.id);
        info = (await this.findSessionContainer(sessionId)) ?? info;
      }
      return info;
    });
  }

  /** The session container of `sessionId` (running or not), by label. */
  async findSessionContainer(sessionId: bigint | number | string): Promise<ContainerInfo | undefined> {
    const id = normalizeSessionId(sessionId);
    const found = await this.listByLabels([`${LABEL_SESSION}=${id}`, `${LABEL_ROLE}=session`]);
    if (found.length > 1) this.log.error({ sessionId: id, ids: found.map((c) => c.id) }, "several session containers");
    return found[0];
  }

  /** All session containers of this provider (one per session), e.g. to reconcile after a restart. */
  async listSessionContainers(): Promise<ContainerInfo[]> {
    return this.listByLabels([`${LABEL_ROLE}=session`]);
  }

  /** Every container (session and jobs) of this provider, or of one session. */
  async listAll(sessionId?: bigint | number | string): Promise<ContainerInfo[]> {
    const filters = sessionId === undefined ? [] : [`${LABEL_SESSION}=${normalizeSessionId(sessionId)}`];
    return this.listByLabels(filters);
  }

  /**
   * Removes every container of the session (session container and jobs) and its network. Idempotent.
   * `deleteData` also deletes the session's host directory.
   */
  async removeSession(sessionId: bigint | number | string, opts: { deleteData?: boolean } = {}): Promise<void> {
    const id = normalizeSessionId(sessionId);
    await this.withLock(id, async () => {
      const all = await this.listAll(id);
      await Promise.all(all.map((c) => this.removeContainerById(c.id)));
      await this.removeNetwork(id);
      (await this.cgroups().catch(() => undefined))?.remove(this.hostKey(id));
      if (opts.deleteData) fs.rmSync(this.sessionDir(id), { recursive: true, force: true });
      if (all.length > 0) this.log.info({ sessionId: id, removed: all.length }, "session containers removed");
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // exec

  async exec(sessionId: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecHandle> {
    const id = normalizeSessionId(sessionId);
    const info = await this.findSessionContainer(id);
    if (!info) throw new SessionNotRunningError(id);
    const container = this.docker.getContainer(info.id);
    const tty = opts.tty ?? false;
    // Docker API 1.41 cannot size a tty at exec start and a resize right after start races the process's
    // first look at it; so the process sets its own size before exec'ing the command (no-op without stty).
    const sized =
      tty && opts.cols && opts.rows
        ? [
            "/bin/sh",
            "-c",
            'stty rows "$1" cols "$2" 2>/dev/null; shift 2; exec "$@"',
            "sh",
            String(opts.rows),
            String(opts.cols),
            ...cmd,
          ]
        : cmd;
    const createExec = () =>
      container.exec({
        Cmd: sized,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: tty,
        Env: envList(opts.env),
        User: opts.user,
        WorkingDir: opts.workingDir,
      });
    let exec: Docker.Exec;
    try {
      exec = await createExec();
    } catch (err) {
      // 409: the container is not running (its main process was killed); bring it back once.
      if (dockerStatus(err) !== 409) throw wrap(err, `exec in session ${id}`);
      await this.startContainer(info.id);
      exec = await createExec().catch((e: unknown) => {
        throw wrap(e, `exec in session ${id}`);
      });
    }
    const socket = (await exec.start({ hijack: true, stdin: true, Tty: tty })) as unknown as import("node:net").Socket;

    const stdout = new PassThrough();
    const stderr = new PassThrough();
    if (tty) {
      socket.pipe(stdout);
      stderr.end();
      stderr.resume();
    } else {
      demux(socket, stdout, stderr);
    }
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (socket.destroyed || socket.writableEnded) return cb();
        socket.write(chunk, () => cb());
      },
      final(cb) {
        // Half-close: dockerd sees EOF on the hijacked connection and closes the process's stdin. Not with a
        // tty: there dockerd answers a half-close by dropping the whole stream while the process runs on (and
        // a pty has no "half" to close anyway; OpenSSH's sshd likewise ignores EOF on a pty session).
        if (!tty && !socket.destroyed && !socket.writableEnded) socket.end();
        cb();
      },
    });
    socket.on("error", (err) => this.log.debug({ err }, "exec socket error"));

    // The hijacked connection closes when the process has exited and dockerd has sent all its output.
    const closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        if (!stdout.writableEnded) stdout.end();
        if (!stderr.writableEnded) stderr.end();
        resolve();
      });
    });
    const exit = closed.then(() => exitCodeOf(exec));

    return {
      stdin,
      stdout,
      stderr,
      resize: async (cols, rows) => {
        if (!tty || cols <= 0 || rows <= 0) return;
        await exec.resize({ w: Math.floor(cols), h: Math.floor(rows) }).catch((err: unknown) => {
          this.log.debug({ err }, "exec resize failed");
        });
      },
      exit,
      kill: async (signal = "SIGKILL") => {
        try {
          const { Pid, Running } = await exec.inspect();
          if (Running && Pid > 0) process.kill(Pid, signal);
        } catch {
          // Gone already, or not in our pid namespace.
        }
      },
      close: () => {
        socket.destroy();
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // containers API (jobs)

  /**
   * Runs a job container in the session's allowance: same limits as the session (each job), the session's
   * GPUs, its network, volumes only from its host directory, ports published on `publishHost`.
   */
  async runContainer(
    sessionId: bigint | number | string,
    req: RunContainerRequest,
    allowance: { limits: ResourceLimits; gpus?: readonly string[] },
  ): Promise<ContainerInfo> {
    const id = normalizeSessionId(sessionId);
    const session = await this.findSessionContainer(id);
    if (!session) throw new SessionNotRunningError(id);
    const jobs = (await this.listAll(id)).filter((c) => c.role === "job");
    if (jobs.length >= this.maxJobsPerSession) {
      throw new InvalidContainerRequestError(
        `session ${id} already has ${jobs.length} containers (max ${this.maxJobsPerSession}); stop and remove one`,
      );
    }
    const gpus = selectGpus(req.gpus, allowance.gpus ?? []);
    const binds = this.resolveVolumes(id, req.volumes ?? []);
    const { exposed, bindings } = this.resolvePorts(req.ports ?? {});
    await this.ensureImage(req.image);
    const networkMode = await this.ensureNetwork(id);
    const cgroupParent = await this.budgetParent(id, allowance.limits);
    let created: Docker.Container;
    try {
      created = await this.docker.createContainer({
        Image: req.image,
        Cmd: req.command && req.command.length > 0 ? req.command : undefined,
        Env: envList(req.env),
        Labels: this.labels(id, "job"),
        ExposedPorts: exposed,
        HostConfig: {
          ...this.securityConfig(allowance.limits, gpus),
          ...(cgroupParent !== undefined ? { CgroupParent: cgroupParent } : {}),
          NetworkMode: networkMode,
          Binds: binds,
          PortBindings: bindings,
        },
      });
    } catch (err) {
      if (dockerStatus(err) === 400) throw new InvalidContainerRequestError(dockerMessage(err));
      throw wrap(err, `create container for session ${id}`);
    }
    try {
      await created.start();
    } catch (err) {
      await created.remove({ force: true }).catch(() => {});
      // e.g. "port is already allocated"
      if (dockerStatus(err) === 500 || dockerStatus(err) === 400) {
        throw new InvalidContainerRequestError(dockerMessage(err), "ports");
      }
      throw wrap(err, `start container for session ${id}`);
    }
    this.log.info({ sessionId: id, containerId: created.id, image: req.image }, "job container started");
    return this.inspectOwned(id, created.id);
  }

  /** The session's job containers (not the session container itself). */
  async listContainers(sessionId: bigint | number | string): Promise<ContainerInfo[]> {
    const id = normalizeSessionId(sessionId);
    return (await this.listAll(id)).filter((c) => c.role === "job");
  }

  /** A job container of the session; {@link ContainerNotFoundError} for any other container. */
  async getContainer(sessionId: bigint | number | string, containerId: string): Promise<ContainerInfo> {
    return this.inspectOwned(normalizeSessionId(sessionId), containerId);
  }

  /** Last `tail` lines of a job's stdout+stderr, in order. */
  async logs(
    sessionId: bigint | number | string,
    containerId: string,
    opts: { tail?: number; timestamps?: boolean } = {},
  ): Promise<string> {
    const info = await this.inspectOwned(normalizeSessionId(sessionId), containerId);
    const raw = (await this.docker.getContainer(info.id).logs({
      stdout: true,
      stderr: true,
      follow: false,
      tail: opts.tail ?? 1000,
      timestamps: opts.timestamps ?? false,
    })) as unknown as Buffer;
    return demuxBuffer(raw);
  }

  /** Follows a job's logs (stdout+stderr as text); destroy the stream to stop. */
  async followLogs(sessionId: bigint | number | string, containerId: string, tail = 100): Promise<Readable> {
    const info = await this.inspectOwned(normalizeSessionId(sessionId), containerId);
    const stream = (await this.docker.getContainer(info.id).logs({
      stdout: true,
      stderr: true,
      follow: true,
      tail,
    })) as unknown as Readable;
    const out = new PassThrough();
    demux(stream, out, out);
    out.on("close", () => stream.destroy());
    return out;
  }

  async stopContainer(sessionId: bigint | number | string, containerId: string): Promise<ContainerInfo> {
    const id = normalizeSessionId(sessionId);
    const info = await this.inspectOwned(id, containerId);
    try {
      await this.docker.getContainer(info.id).stop({ t: this.stopTimeoutSec });
    } catch (err) {
      if (dockerStatus(err) !== 304) throw wrap(err, `stop container ${containerId}`);
    }
    return this.inspectOwned(id, info.id);
  }

  async removeContainer(sessionId: bigint | number | string, containerId: string): Promise<void> {
    const info = await this.inspectOwned(normalizeSessionId(sessionId), containerId);
    await this.removeContainerById(info.id);
  }

  // ---------------------------------------------------------------------------------------------------------
  // internals

  private labels(sessionId: string, role: ContainerRole): Record<string, string> {
    return {
      [LABEL_MANAGED]: "1",
      [LABEL_SESSION]: sessionId,
      [LABEL_PROVIDER]: this.provider,
      [LABEL_ROLE]: role,
      ...(this.instance === "" ? {} : { [LABEL_INSTANCE]: this.instance }),
    };
  }

  private securityConfig(limits: ResourceLimits, gpus: readonly string[]): Docker.HostConfig {
    checkLimits(limits);
    return {
      Init: true,
      SecurityOpt: ["no-new-privileges:true"],
      CapDrop: ["ALL"],
      CapAdd: [...this.capAdd],
      ReadonlyRootfs: false,
      Privileged: false,
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      PidsLimit: limits.pidsLimit,
      // /dev/shm counts against Memory; PyTorch data loaders want more than Docker's 64 MiB.
      ShmSize: Math.min(Math.floor(limits.memoryBytes / 4), 2 * 1024 ** 3),
      DeviceRequests:
        gpus.length > 0 ? [{ Driver: "nvidia", DeviceIDs: [...gpus], Capabilities: [["gpu"]] }] : undefined,
    };
  }

  private async listByLabels(labels: string[]): Promise<ContainerInfo[]> {
    let list: Docker.ContainerInfo[];
    try {
      list = await this.docker.listContainers({
        all: true,
        filters: {
          label: [
            `${LABEL_MANAGED}=1`,
            `${LABEL_PROVIDER}=${this.provider}`,
            ...(this.instance === "" ? [] : [`${LABEL_INSTANCE}=${this.instance}`]),
            ...labels,
          ],
        },
      });
    } catch (err) {
      throw wrap(err, "list containers");
    }
    // Docker filters can only ask for a label's presence, not its absence: an instance-less manager must
    // still leave other instances' containers alone.
    return list
      .filter((c) => (c.Labels?.[LABEL_INSTANCE] ?? "") === this.instance)
      .map(toInfo)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  private async inspectOwned(sessionId: string, containerId: string): Promise<ContainerInfo> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(containerId))
      throw new ContainerNotFoundError(sessionId, containerId);
    let ins: Docker.ContainerInspectInfo;
    try {
      ins = await this.docker.getContainer(containerId).inspect();
    } catch (err) {
      if (dockerStatus(err) === 404) throw new ContainerNotFoundError(sessionId, containerId);
      throw wrap(err, `inspect container ${containerId}`);
    }
    const labels = ins.Config.Labels ?? {};
    if (
      labels[LABEL_SESSION] !== sessionId ||
      labels[LABEL_PROVIDER] !== this.provider ||
      (labels[LABEL_INSTANCE] ?? "") !== this.instance ||
      labels[LABEL_ROLE] !== "job"
    ) {
      throw new ContainerNotFoundError(sessionId, containerId);
    }
    const ports: ContainerInfo["ports"] = [];
    for (const [key, binds] of Object.entries(ins.NetworkSettings.Ports ?? {})) {
      const [port, protocol] = key.split("/");
      for (const b of binds ?? []) {
        ports.push({
          containerPort: Number(port),
          protocol: protocol ?? "tcp",
          hostIp: b.HostIp,
          hostPort: Number(b.HostPort),
        });
      }
    }
    return {
      id: ins.Id,
      name: ins.Name.replace(/^\//, ""),
      sessionId,
      role: "job",
      image: ins.Config.Image,
      state: ins.State.Status,
      status: ins.State.Status + (ins.State.Running ? "" : ` (exit ${ins.State.ExitCode})`),
      running: ins.State.Running,
      createdAt: Date.parse(ins.Created),
      ports,
      labels,
    };
  }

  private async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (dockerStatus(err) !== 304) throw wrap(err, `start container ${id}`);
    }
  }

  private async removeContainerById(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const s = dockerStatus(err);
      if (s !== 404 && s !== 409) throw wrap(err, `remove container ${id}`); // 409: removal already in progress
    }
  }

  private async ensureNetwork(sessionId: string): Promise<string> {
    if (this.networkMode === "none") return "none";
    const name = this.networkName(sessionId);
    const existing = await this.docker.listNetworks({ filters: { name: [name] } }).catch((err: unknown) => {
      throw wrap(err, "list networks");
    });
    if (existing.some((n) => n.Name === name)) return name;
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: "bridge",
        CheckDuplicate: true,
        Internal: !this.egress,
        Labels: this.labels(sessionId, "session"),
        Options: {
          "com.docker.network.bridge.enable_icc": "true",
          "com.docker.network.bridge.name": this.bridgeName(sessionId),
        },
      });
    } catch (err) {
      if (dockerStatus(err) !== 409) throw wrap(err, `create network ${name}`);
    }
    return name;
  }

  private async removeNetwork(sessionId: string): Promise<void> {
    if (this.networkMode === "none") return;
    const name = this.networkName(sessionId);
    try {
      const nets = await this.docker.listNetworks({ filters: { name: [name] } });
      for (const n of nets.filter((n) => n.Name === name)) {
        await this.docker.getNetwork(n.Id).remove();
      }
    } catch (err) {
      if (dockerStatus(err) !== 404) this.log.warn({ err, sessionId }, "network removal failed");
    }
  }

  private ensureSessionDir(sessionId: string): string {
    const dir = this.sessionDir(sessionId);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * `src:dst[:ro|rw]` → a bind of `<sessionDir>/<src>`. `src` is one or more plain path segments inside the
   * session dir ("/data", "data/models"); every existing component is checked not to be a symlink, so a
   * renter cannot point a job at the host through a link made from the session container.
   */
  private resolveVolumes(sessionId: string, volumes: string[]): string[] {
    const root = this.ensureSessionDir(sessionId);
    return volumes.map((spec, i) => {
      const parts = spec.split(":");
      if (parts.length < 2 || parts.length > 3) {
        throw new InvalidContainerRequestError(`volumes[${i}]: expected "src:dst" or "src:dst:ro"`, "volumes");
      }
      const [src = "", dst = "", mode = "rw"] = parts;
      if (mode !== "ro" && mode !== "rw")
        throw new InvalidContainerRequestError(`volumes[${i}]: mode must be ro or rw`, "volumes");
      if (!path.posix.isAbsolute(dst) || dst.split("/").includes("..")) {
        throw new InvalidContainerRequestError(`volumes[${i}]: container path must be absolute`, "volumes");
      }
      const segments = src.split("/").filter((s) => s !== "" && s !== ".");
      if (segments.some((s) => s === ".." || !/^[A-Za-z0-9._-]+$/.test(s))) {
        throw new InvalidContainerRequestError(
          `volumes[${i}]: source must be a path inside the session directory (letters, digits, ._-)`,
          "volumes",
        );
      }
      let host = root;
      for (const seg of segments) {
        host = path.join(host, seg);
        let st: fs.Stats | undefined;
        try {
          st = fs.lstatSync(host);
        } catch {
          fs.mkdirSync(host, { mode: 0o755 });
          st = fs.lstatSync(host);
        }
        if (!st.isDirectory() || st.isSymbolicLink()) {
          throw new InvalidContainerRequestError(`volumes[${i}]: ${segments.join("/")} is not a directory`, "volumes");
        }
      }
      return `${host}:${dst}:${mode}`;
    });
  }

  private resolvePorts(ports: Record<string, number>): {
    exposed: Record<string, object>;
    bindings: Record<string, { HostIp: string; HostPort: string }[]>;
  } {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const [key, hostPort] of Object.entries(ports)) {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(key);
      const cport = m ? Number(m[1]) : 0;
      if (!m || cport < 1 || cport > 65535)
        throw new InvalidContainerRequestError(`ports: bad container port ${key}`, "ports");
      const { min, max } = this.hostPortRange;
      if (!Number.isInteger(hostPort) || (hostPort !== 0 && (hostPort < min || hostPort > max))) {
        throw new InvalidContainerRequestError(
          `ports: host port ${hostPort} outside ${min}-${max} (0: any free port)`,
          "ports",
        );
      }
      const k = `${cport}/${m[2] ?? "tcp"}`;
      exposed[k] = {};
      bindings[k] = [{ HostIp: this.publishHost, HostPort: hostPort === 0 ? "" : String(hostPort) }];
    }
    return { exposed, bindings };
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// helpers

function checkLimits(l: ResourceLimits): void {
  if (!Number.isSafeInteger(l.memoryBytes) || l.memoryBytes < 6 * 1024 * 1024) {
    throw new RangeError(`memoryBytes must be an integer ≥ 6 MiB, got ${l.memoryBytes}`);
  }
  if (!Number.isSafeInteger(l.nanoCpus) || l.nanoCpus < 10_000_000)
    throw new RangeError(`nanoCpus too small: ${l.nanoCpus}`);
  if (!Number.isSafeInteger(l.pidsLimit) || l.pidsLimit < 16)
    throw new RangeError(`pidsLimit too small: ${l.pidsLimit}`);
}

function selectGpus(want: "all" | number | undefined, session: readonly string[]): string[] {
  if (want === undefined || want === 0) return [];
  if (want === "all") return [...session];
  if (!Number.isInteger(want) || want < 0)
    throw new InvalidContainerRequestError(`gpus must be "all" or a count`, "gpus");
  if (want > session.length) {
    throw new InvalidContainerRequestError(`gpus: ${want} requested, the session has ${session.length}`, "gpus");
  }
  return session.slice(0, want);
}

function envList(env: Record<string, string> | undefined): string[] | undefined {
  if (!env) return undefined;
  return Object.entries(env)
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `${k}=${v}`);
}

function toInfo(c: Docker.ContainerInfo): ContainerInfo {
  const labels = c.Labels ?? {};
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? "").replace(/^\//, ""),
    sessionId: labels[LABEL_SESSION] ?? "",
    role: labels[LABEL_ROLE] === "session" ? "session" : "job",
    image: c.Image,
    state: c.State,
    status: c.Status,
    running: c.State === "running",
    createdAt: c.Created * 1000,
    ports: (c.Ports ?? [])
      .filter((p) => p.PublicPort !== undefined)
      .map((p) => ({ containerPort: p.PrivatePort, protocol: p.Type, hostIp: p.IP ?? "", hostPort: p.PublicPort })),
    labels,
  };
}

async function exitCodeOf(exec: Docker.Exec): Promise<number> {
  // The hijacked stream can close a moment before dockerd records the exit.
  for (let i = 0; i < 50; i++) {
    try {
      const ins = await exec.inspect();
      if (!ins.Running) return ins.ExitCode ?? -1;
    } catch {
      return -1;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return -1;
}

function dockerMessage(err: unknown): string {
  if (typeof err === "object" && err !== null && "json" in err) {
    const j = (err as { json?: { message?: unknown } }).json;
    if (j && typeof j.message === "string") return j.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function wrap(err: unknown, what: string): Error {
  if (err instanceof InvalidContainerRequestError || err instanceof ContainerNotFoundError) return err;
  return new DockerError(`docker: ${what}: ${dockerMessage(err)}`, { cause: err });
}

/**
 * Splits Docker's multiplexed stdout/stderr stream (8-byte frame headers) with backpressure. Ends both
 * outputs when the source ends or closes.
 */
export function demux(source: Readable, stdout: PassThrough, stderr: PassThrough): void {
  let buf: Buffer = Buffer.alloc(0);
  const finish = () => {
    if (!stdout.writableEnded) stdout.end();
    if (stderr !== stdout && !stderr.writableEnded) stderr.end();
  };
  source.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let waitFor: PassThrough | undefined;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      const target = buf[0] === 2 ? stderr : stdout;
      const payload = buf.subarray(8, 8 + len);
      buf = buf.subarray(8 + len);
      if (payload.length > 0 && !target.write(payload)) waitFor = target;
    }
    if (waitFor) {
      source.pause();
      waitFor.once("drain", () => source.resume());
    }
  });
  source.once("end", finish);
  source.once("close", finish);
  source.once("error", finish);
}

/** Docker's multiplexed log buffer → text, frames in order (non-multiplexed input is returned as is). */
export function demuxBuffer(raw: Buffer | string): string {
  const b = typeof raw === "string" ? Buffer.from(raw, "binary") : raw;
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const type = b[off];
    if (type !== 0 && type !== 1 && type !== 2) return b.toString("utf8");
    const len = b.readUInt32BE(off + 4);
    parts.push(b.subarray(off + 8, off + 8 + len));
    off += 8 + len;
  }
  if (off < b.length && parts.length === 0) return b.toString("utf8");
  return Buffer.concat(parts).toString("utf8");
}
