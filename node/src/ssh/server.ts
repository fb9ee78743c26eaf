/**
 * The node's SSH server (ssh2): renters land inside their session's container.
 *
 * - Key-only: the username names the session (`s<id>`, {@link usernameForSession}); the key offered must be the
 *   session's key (same wire blob: type and key material) and the session must be active. Passwords,
 *   keyboard-interactive, host-based: refused.
 * - `exec` and `shell` (with or without a pty) run via `docker exec` in that session's container: stdin,
 *   stdout, stderr, EOF, window changes, signals and the exit status pass through. `subsystem sftp` runs the
 *   image's sftp-server, so `sftp` and `scp` (SFTP-based since OpenSSH 9) work.
 * - Refused: port forwarding (both directions), agent and X11 forwarding, other subsystems, env other than
 *   LANG, LC_*, TERM, COLORTERM, TZ.
 * - A connection can only ever reach the container of the session it authenticated as.
 * - Relays (the relayer's `ssh -p 2222 s<id>@gateway`): a key listed in `relayKeys` may log in as any *active*
 *   session. The relay has checked the renter's own key against the session's before it connects; the node
 *   trusts only the relays its operator listed (SSH_RELAY_KEYS), and everything else above applies unchanged.
 * - Revocation: {@link SshServer.revoke} closes a session's connections; every new channel re-checks the session
 *   is still active, and a periodic sweep closes connections whose session stopped being active.
 */
import ssh2, { type AuthContext, type Connection, type ServerChannel, type Session } from "ssh2";
import type { ExecHandle, ExecOptions, ExecTarget } from "../rentals/containers.ts";
import { silentLogger, type Logger } from "../logger.ts";
import {
  fingerprintOf,
  listenSsh,
  loadOrCreateHostKey,
  parseSshPublicKey,
  sameKey,
  type SshPublicKey,
} from "@jeju/compute-sdk/ssh/keys";

export { loadOrCreateHostKey };

const { Server, utils } = ssh2;

/** What the SSH server needs to know about a session, by username. */
export type SshSessionInfo = {
  sessionId: string;
  /** The renter's OpenSSH public key line. */
  sshPublicKey: string;
  /** Only active sessions may log in. */
  active: boolean;
};

/** Looks sessions up by SSH username (the node's store implements it; so can a chain-backed one). */
export interface SshSessionLookup {
  lookupSshSession(username: string): SshSessionInfo | undefined | Promise<SshSessionInfo | undefined>;
}

export type SshServerOptions = {
  sessions: SshSessionLookup;
  containers: ExecTarget;
  /** Default 2222 (SSH_PORT); 0 picks a free port. */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Host private key (OpenSSH or PEM). Default: {@link loadOrCreateHostKey}(dataDir). */
  hostKey?: string | Buffer;
  /** Where the host key is kept when `hostKey` is not given. */
  dataDir?: string;
  logger?: Logger;
  /** How often open connections are re-checked against the session lookup (default 15 s; 0: never). */
  recheckIntervalMs?: number;
  /** Connections that have not authenticated by then are dropped (default 30 s). */
  authTimeoutMs?: number;
  /** Failed auth attempts before the connection is dropped (default 10). */
  maxAuthAttempts?: number;
  /** Concurrent connections per session (default 32). */
  maxConnectionsPerSession?: number;
  /** Open connections at once, authenticated or not (default 512); more are refused at accept. */
  maxConnections?: number;
  /** Pre-auth banner. */
  banner?: string;
  /** OpenSSH public key lines of trusted SSH relays (SSH_RELAY_KEYS): each may log in as any active session. */
  relayKeys?: readonly string[];
};

/** Environment variables a client may set (`SendEnv`); everything else is refused. */
const ENV_ALLOWED = /^(LANG|LC_[A-Z]+|TERM|COLORTERM|TZ)$/;
const SIGNALS = new Set([
  "ABRT",
  "ALRM",
  "FPE",
  "HUP",
  "ILL",
  "INT",
  "KILL",
  "PIPE",
  "QUIT",
  "SEGV",
  "TERM",
  "USR1",
  "USR2",
]);

/** Login shell: bash when the image has it, else sh. */
const SHELL_CMD = ["/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi"];
/** `ssh host 'cmd'`: the command string through bash (or sh), like sshd runs it through the login shell. */
const execCmd = (command: string) => [
  "/bin/sh",
  "-c",
  'if [ -x /bin/bash ]; then exec /bin/bash -c "$0"; else exec /bin/sh -c "$0"; fi',
  command,
];
const SFTP_CMD = [
  "/bin/sh",
  "-c",
  'for p in /usr/lib/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/openssh/sftp-server /usr/libexec/sftp-server /usr/lib/sftp-server; do [ -x "$p" ] && exec "$p"; done; echo "sftp-server not found in this image" >&2; exit 127',
];

type ConnState = { sessionId?: string; username?: string; viaRelay?: string; conn: Connection; closed: boolean };

export class SshServer {
  private readonly server: InstanceType<typeof Server>;
  private readonly opts: SshServerOptions;
  private readonly log: Logger;
  private readonly bySession = new Map<string, Set<ConnState>>();
  private readonly all = new Set<ConnState>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  readonly hostKeyFingerprint: string;
  readonly hostPublicKey: string;
  private readonly relayKeys: SshPublicKey[];

  constructor(opts: SshServerOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ component: "ssh" });
    let hostKey: string | Buffer;
    if (opts.hostKey !== undefined) {
      hostKey = opts.hostKey;
    } else {
      if (!opts.dataDir) throw new Error("SshServer needs hostKey or dataDir");
      hostKey = loadOrCreateHostKey(opts.dataDir).privateKey;
    }
    const parsed = utils.parseKey(hostKey);
    if (parsed instanceof Error) throw new Error(`bad SSH host key: ${parsed.message}`);
    this.hostPublicKey = `${parsed.type} ${parsed.getPublicSSH().toString("base64")}`;
    this.hostKeyFingerprint = fingerprintOf(parsed.getPublicSSH());
    this.relayKeys = (opts.relayKeys ?? []).map((line) => {
      try {
        return parseSshPublicKey(line);
      } catch (err) {
        throw new Error(`bad SSH relay key ${JSON.stringify(line.slice(0, 40))}: ${(err as Error).message}`);
      }
    });
    this.server = new Server(
      { hostKeys: [hostKey], ident: "ComputeNode", banner: opts.banner },
      (conn: Connection, info: { ip: string; port: number }) => this.onConnection(conn, info),
    );
    this.server.on("error", (err: Error) => this.log.error({ err }, "ssh server error"));
    this.server.maxConnections = opts.maxConnections ?? 512;
  }

  /** Listens; resolves with the bound port. */
  async listen(): Promise<number> {
    const host = this.opts.host ?? "0.0.0.0";
    this.boundPort = await listenSsh(this.server, this.opts.port ?? 2222, host);
    const every = this.opts.recheckIntervalMs ?? 15_000;
    if (every > 0) {
      this.recheckTimer = setInterval(() => void this.recheck(), every);
      this.recheckTimer.unref();
    }
    this.log.info({ port: this.boundPort, host, fingerprint: this.hostKeyFingerprint }, "ssh server listening");
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    for (const c of this.all) c.conn.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Closes every connection of the session; returns how many. New ones are refused by the lookup. */
  revoke(sessionId: string): number {
    const set = this.bySession.get(sessionId);
    if (!set) return 0;
    const n = set.size;
    for (const c of set) this.drop(c, "session revoked");
    this.bySession.delete(sessionId);
    if (n > 0) this.log.info({ sessionId, connections: n }, "ssh connections revoked");
    return n;
  }

  connectionCount(sessionId?: string): number {
    return sessionId === undefined ? this.all.size : (this.bySession.get(sessionId)?.size ?? 0);
  }

  /** Re-checks every connected session against the lookup; closes those no longer active. */
  async recheck(): Promise<void> {
    const seen = new Map<string, string>();
    for (const [sessionId, set] of this.bySession) {
      const first = set.values().next().value as ConnState | undefined;
      if (first?.username) seen.set(sessionId, first.username);
    }
    for (const [sessionId, username] of seen) {
      const info = await Promise.resolve(this.opts.sessions.lookupSshSession(username)).catch(() => undefined);
      if (!info?.active || info.sessionId !== sessionId) this.revoke(sessionId);
    }
  }

  private drop(c: ConnState, why: string): void {
    if (c.closed) return;
    c.closed = true;
    this.log.debug({ sessionId: c.sessionId, why }, "closing ssh connection");
    c.conn.end();
  }

  private onConnection(conn: Connection, info: { ip: string; port: number }): void {
    const state: ConnState = { conn, closed: false };
    this.all.add(state);
    const log = this.log.child({ remote: `${info.ip}:${info.port}` });
    let failures = 0;
    const authTimer = setTimeout(() => this.drop(state, "auth timeout"), this.opts.authTimeoutMs ?? 30_000);
    authTimer.unref();

    conn.on("authentication", (ctx: AuthContext) => {
      void this.authenticate(ctx, state).then(
        (res) => {
          if (res !== "rejected") return;
          failures += 1;
          if (failures >= (this.opts.maxAuthAttempts ?? 10)) this.drop(state, "too many auth failures");
        },
        (err: unknown) => {
          log.error({ err }, "ssh auth lookup failed");
          ctx.reject(["publickey"]);
        },
      );
    });

    conn.on("ready", () => {
      clearTimeout(authTimer);
      const sessionId = state.sessionId;
      if (sessionId === undefined) return this.drop(state, "ready without session");
      let set = this.bySession.get(sessionId);
      if (!set) {
        set = new Set();
        this.bySession.set(sessionId, set);
      }
      if (set.size >= (this.opts.maxConnectionsPerSession ?? 32)) return this.drop(state, "too many connections");
      set.add(state);
      log.info({ sessionId, ...(state.viaRelay ? { relay: state.viaRelay } : {}) }, "ssh login");
      conn.on("session", (accept) => this.onSession(state, accept(), log.child({ sessionId })));
    });

    const cleanup = () => {
      clearTimeout(authTimer);
      state.closed = true;
      this.all.delete(state);
      if (state.sessionId !== undefined) {
        const set = this.bySession.get(state.sessionId);
        set?.delete(state);
        if (set && set.size === 0) this.bySession.delete(state.sessionId);
      }
    };
    conn.on("close", cleanup);
    conn.on("error", (err: Error) => log.debug({ err: err.message }, "ssh connection error"));
  }

  /**
   * "accepted" after the final, signed step (and `state` then names the session), "query" for a key probe
   * or the `none` method, "rejected" otherwise.
   */
  private async authenticate(ctx: AuthContext, state: ConnState): Promise<"accepted" | "query" | "rejected"> {
    if (ctx.method !== "publickey") {
      ctx.reject(["publickey"]);
      return ctx.method === "none" ? "query" : "rejected";
    }
    const info = await this.opts.sessions.lookupSshSession(ctx.username);
    let key: SshPublicKey | undefined;
    if (info?.active) {
      try {
        key = parseSshPublicKey(info.sshPublicKey);
      } catch {
        key = undefined;
      }
    }
    // The renter's own key, or a trusted relay's (which vouches that the renter proved that key to it).
    const relay = info?.active ? this.relayKeys.find((k) => sameKey(k, ctx.key.data)) : undefined;
    if (relay) key = relay;
    if (!info || !key || !sameKey(key, ctx.key.data)) {
      ctx.reject(["publickey"]);
      return "rejected";
    }
    if (!ctx.signature || !ctx.blob) {
      ctx.accept(); // "this key would do": the client signs next
      return "query";
    }
    if (key.parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
      ctx.reject(["publickey"]);
      return "rejected";
    }
    // Before accept(): ssh2 emits "ready" synchronously from it.
    state.sessionId = info.sessionId;
    state.username = ctx.username;
    if (relay) state.viaRelay = relay.fingerprint;
    ctx.accept();
    return "accepted";
  }

  private onSession(state: ConnState, session: Session, log: Logger): void {
    let pty: { cols: number; rows: number; term: string } | undefined;
    const env: Record<string, string> = {};
    let handle: ExecHandle | undefined;

    session.on("pty", (accept, reject, info) => {
      if (handle) return reject?.();
      pty = { cols: info.cols, rows: info.rows, term: info.term || "xterm" };
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      if (pty) {
        pty.cols = info.cols;
        pty.rows = info.rows;
      }
      void handle?.resize(info.cols, info.rows);
      accept?.();
    });
    session.on("env", (accept, reject, info) => {
      if (ENV_ALLOWED.test(info.key) && info.val.length <= 1024 && Object.keys(env).length < 32) {
        env[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    session.on("signal", (accept, reject, info) => {
      const name = String(info.name).replace(/^SIG/, "");
      if (!handle || !SIGNALS.has(name)) return reject?.();
      void handle.kill(`SIG${name}` as NodeJS.Signals);
      accept?.();
    });

    const start = (channel: ServerChannel, cmd: string[], tty: boolean, kind: string) => {
      void this.run(
        state,
        channel,
        cmd,
        { tty, env: { ...env, ...(tty && pty ? { TERM: pty.term } : {}) }, pty },
        log,
        kind,
      ).then((h) => {
        handle = h;
      });
    };

    session.on("shell", (accept, reject) => {
      if (!this.stillActive(state)) return reject?.();
      start(accept(), SHELL_CMD, pty !== undefined, "shell");
    });
    session.on("exec", (accept, reject, info) => {
      if (!this.stillActive(state)) return reject?.();
      start(accept(), execCmd(info.command), pty !== undefined, "exec");
    });
    session.on("subsystem", (accept, reject, info) => {
      if (info.name !== "sftp" || !this.stillActive(state)) return reject?.();
      start(accept(), SFTP_CMD, false, "sftp");
    });
  }

  private stillActive(state: ConnState): boolean {
    return !state.closed && state.sessionId !== undefined && this.bySession.get(state.sessionId)?.has(state) === true;
  }

  /** Runs `cmd` in the session's container, wired to `channel`; resolves with the handle once started. */
  private async run(
    state: ConnState,
    channel: ServerChannel,
    cmd: string[],
    opts: { tty: boolean; env: Record<string, string>; pty?: { cols: number; rows: number } | undefined },
    log: Logger,
    kind: string,
  ): Promise<ExecHandle | undefined> {
    const sessionId = state.sessionId as string;
    // Re-check at every channel: a session ended a moment ago must not get a new process.
    const info = state.username
      ? await Promise.resolve(this.opts.sessions.lookupSshSession(state.username))
      : undefined;
    if (!info?.active || info.sessionId !== sessionId) {
      channel.stderr.write("compute: this session is no longer active\r\n");
      channel.exit(255);
      channel.end();
      this.revoke(sessionId);
      return undefined;
    }
    const execOpts: ExecOptions = {
      tty: opts.tty,
      env: { ...opts.env, COMPUTE_SESSION_ID: sessionId },
      cols: opts.pty?.cols,
      rows: opts.pty?.rows,
    };
    let h: ExecHandle;
    try {
      h = await this.opts.containers.exec(sessionId, cmd, execOpts);
    } catch (err) {
      log.warn({ err: (err as Error).message, kind }, "exec failed");
      channel.stderr.write(`compute: cannot start ${kind} in the session container: ${(err as Error).message}\r\n`);
      channel.exit(255);
      channel.end();
      return undefined;
    }
    if (opts.tty && opts.pty) void h.resize(opts.pty.cols, opts.pty.rows);

    // client → process
    channel.on("data", (d: Buffer) => {
      if (!h.stdin.write(d)) {
        channel.pause();
        h.stdin.once("drain", () => channel.resume());
      }
    });
    channel.on("end", () => h.stdin.end());

    // process → client (without ending the channel: the exit status goes first)
    const outDone = pipeNoEnd(h.stdout, channel);
    const errDone = pipeNoEnd(h.stderr, channel.stderr);
    let exited = false;
    void Promise.all([h.exit, outDone, errDone]).then(([code]) => {
      exited = true;
      if (channel.destroyed) return;
      log.debug({ kind, code }, "ssh channel process exited");
      channel.exit(code < 0 ? 255 : code);
      channel.end();
    });
    channel.on("close", () => {
      if (exited) return;
      // Client went away with the process still running: hang it up (what sshd does), drop the stream.
      void h.kill("SIGHUP").finally(() => h.close());
    });
    return h;
  }
}

/** Pipes `src` into `dst` with backpressure, leaving `dst` open; resolves when `src` ended. */
function pipeNoEnd(src: NodeJS.ReadableStream, dst: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    src.on("data", (chunk: Buffer) => {
      if (!dst.write(chunk)) {
        src.pause();
        dst.once("drain", () => src.resume());
      }
    });
    src.once("end", () => resolve());
    src.once("close", () => resolve());
  });
}

/** Creates an SSH server; call `listen()` to serve. */
export function createSshServer(opts: SshServerOptions): SshServer {
  return new SshServer(opts);
}
