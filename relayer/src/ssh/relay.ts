/**
 * The SSH relay: `ssh -p 2222 s<id>@gateway` reaches session `id` on whichever provider runs it.
 *
 * SSH carries the username only inside the encrypted handshake, so a relay has to terminate the renter's
 * connection (like a bastion) and open its own to the provider:
 *
 *   renter ──ssh (renter's key, checked against the session's key on-chain)──▶ relay
 *   relay  ──ssh (the relay's own key, which the node trusts through SSH_RELAY_KEYS)──▶ provider's SSH server
 *
 * - Who: only `s<id>` of a session that is Active on-chain, with the key from its SessionCreated event
 *   (publickey only; passwords and the rest are refused). targets.ts reads all of it from the chain.
 * - Where: only the address the session's provider published in its own SessionActivated event, and, when the
 *   provider published its host key there, only a server holding that key.
 * - What: session channels (shell, exec, sftp/scp) with pty, window changes, env, signals, EOF and exit status
 *   passed through. Agent and X11 forwarding and remote forwarding are refused; the one direct-tcpip channel
 *   allowed is to the session's own SSH address (ProxyJump, below). The node applies its own rules on top
 *   (allowed env, revocation when the session ends), and when it closes the connection the renter's closes too.
 * - The relay sees the traffic of relayed channels in the clear, as any bastion does. `ssh -J s<id>@relay -p
 *   <port> s<id>@<provider host>` (ProxyJump) instead runs the renter's SSH end to end to the node through a
 *   direct-tcpip channel, and the relay only moves bytes; so does connecting to the provider directly.
 */
import net from "node:net";
import path from "node:path";
import {
  fingerprintOf,
  listenSsh,
  loadOrCreateHostKey,
  parseSshPublicKey,
  sameKey,
  sessionIdFromUsername,
} from "@jeju/compute-sdk/ssh/keys";
import ssh2, {
  type AuthContext,
  type ClientChannel,
  type Connection,
  type PseudoTtyInfo,
  type ServerChannel,
  type Session,
} from "ssh2";
import type { Address, PublicClient } from "viem";
import type { Logger } from "../logger.ts";
import { chainTargetResolver, type RelayTarget, type TargetResolver } from "./targets.ts";

const { Client, Server } = ssh2;

const ENV_ALLOWED = /^(LANG|LC_[A-Z]+|TERM|COLORTERM|TZ)$/;

export type SshRelayOptions = {
  resolve: TargetResolver;
  /** The relay's host key (what renters' known_hosts hold), OpenSSH/PEM private key. */
  hostKey: string;
  /** The relay's client key for provider nodes (its public half goes into their SSH_RELAY_KEYS). */
  clientKey: string;
  log: Logger;
  /** Default 2222; 0 picks a free port. */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Unauthenticated connections are dropped after this (default 30 s). */
  authTimeoutMs?: number;
  /** Failed auth attempts before the connection is dropped (default 10). */
  maxAuthAttempts?: number;
  /** Time allowed to reach the provider's SSH server (default 10 s). */
  connectTimeoutMs?: number;
  /** Open connections at once, authenticated or not (default 512); more are refused at accept. */
  maxConnections?: number;
};

type Upstream = { client: InstanceType<typeof Client>; ready: Promise<void> };

export class SshRelay {
  private readonly server: InstanceType<typeof Server>;
  private readonly conns = new Set<Connection>();
  private boundPort = 0;
  readonly hostKeyFingerprint: string;
  readonly clientPublicKey: string;

  constructor(private readonly o: SshRelayOptions) {
    const host = ssh2.utils.parseKey(o.hostKey);
    if (host instanceof Error) throw new Error(`bad SSH relay host key: ${host.message}`);
    this.hostKeyFingerprint = fingerprintOf(host.getPublicSSH());
    const client = ssh2.utils.parseKey(o.clientKey);
    if (client instanceof Error) throw new Error(`bad SSH relay client key: ${client.message}`);
    this.clientPublicKey = `${client.type} ${client.getPublicSSH().toString("base64")}`;
    this.server = new Server(
      { hostKeys: [o.hostKey], ident: "ComputeRelay" },
      (conn: Connection, info: { ip: string; port: number }) => this.onConnection(conn, info),
    );
    this.server.on("error", (err: Error) => o.log.error({ err }, "ssh relay error"));
    // Each connection may cost chain reads and an upstream connection: cap them (ssh2 drops the excess).
    this.server.maxConnections = o.maxConnections ?? 512;
  }

  async listen(): Promise<number> {
    const host = this.o.host ?? "0.0.0.0";
    this.boundPort = await listenSsh(this.server, this.o.port ?? 2222, host);
    this.o.log.info(
      { port: this.boundPort, host, fingerprint: this.hostKeyFingerprint, relayKey: this.clientPublicKey },
      "ssh relay listening (nodes trust it with SSH_RELAY_KEYS=<relayKey>)",
    );
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(conn: Connection, info: { ip: string; port: number }): void {
    this.conns.add(conn);
    const log = this.o.log.child({ component: "ssh-relay", remote: `${info.ip}:${info.port}` });
    let target: RelayTarget | undefined;
    let upstream: Upstream | undefined;
    let failures = 0;
    const authTimer = setTimeout(() => conn.end(), this.o.authTimeoutMs ?? 30_000);
    authTimer.unref();

    conn.on("authentication", (ctx: AuthContext) => {
      this.authenticate(ctx, log, (t) => (target = t)).then(
        (res) => {
          if (res === "rejected" && ++failures >= (this.o.maxAuthAttempts ?? 10)) conn.end();
        },
        (err: unknown) => {
          log.warn({ err: (err as Error).message }, "ssh relay: session lookup failed");
          ctx.reject(["publickey"]);
        },
      );
    });
    conn.on("ready", () => {
      clearTimeout(authTimer);
      if (!target) return conn.end();
      const t = target;
      log.info(
        { sessionId: t.sessionId.toString(), provider: t.provider, upstream: `${t.host}:${t.port}` },
        "ssh relay login",
      );
      // The relay's own connection to the node is made for the first shell/exec/sftp channel only: a ProxyJump
      // (`ssh -J`) client needs none.
      const relayed = () => (upstream ??= this.connectUpstream(t, log, () => conn.end()));
      conn.on("session", (accept) => this.onSession(accept(), relayed, log));
    });
    // `ssh -J s<id>@relay …`: a direct-tcpip channel to exactly the session's SSH address (as the provider published
    // it), so the renter's SSH runs end to end to the node and the relay only moves bytes. Nothing else is forwarded.
    conn.on("tcpip", (accept, reject, info) => {
      const t = target;
      if (!t || info.destPort !== t.port || info.destIP.toLowerCase() !== t.host.toLowerCase()) return reject();
      const socket = net.connect(t.port, t.host);
      socket.once("error", (err: Error) => {
        log.info({ err: err.message, upstream: `${t.host}:${t.port}` }, "ssh relay: jump target unreachable");
        reject();
      });
      socket.once("connect", () => {
        const channel = accept();
        log.info(
          { sessionId: t.sessionId.toString(), upstream: `${t.host}:${t.port}` },
          "ssh relay: jump (end to end)",
        );
        socket.on("error", () => channel.destroy());
        channel.on("error", () => socket.destroy());
        channel.pipe(socket).pipe(channel);
      });
    });
    // Remote forwarding (tcpip-forward) and other global requests are refused.
    conn.on("request", (_accept, reject) => reject?.());
    conn.on("close", () => {
      clearTimeout(authTimer);
      this.conns.delete(conn);
      upstream?.client.end();
    });
    conn.on("error", (err: Error) => log.debug({ err: err.message }, "ssh relay connection error"));
  }

  /**
   * "accepted" when the final, signed step passed (`found` got the target first: ssh2 emits "ready" from inside
   * accept()), "query" for a key probe or `none`, else "rejected".
   */
  private async authenticate(
    ctx: AuthContext,
    log: Logger,
    found: (t: RelayTarget) => void,
  ): Promise<"accepted" | "query" | "rejected"> {
    if (ctx.method !== "publickey") {
      ctx.reject(["publickey"]);
      return ctx.method === "none" ? "query" : "rejected";
    }
    const id = sessionIdFromUsername(ctx.username);
    const lookup = id === undefined ? undefined : await this.o.resolve(BigInt(id));
    if (!lookup?.ok) {
      if (lookup) log.info({ username: ctx.username, reason: lookup.reason }, "ssh relay: refused");
      ctx.reject(["publickey"]);
      return "rejected";
    }
    let key: ReturnType<typeof parseSshPublicKey>;
    try {
      key = parseSshPublicKey(lookup.target.sshPublicKey);
    } catch {
      ctx.reject(["publickey"]);
      return "rejected";
    }
    if (!sameKey(key, ctx.key.data)) {
      ctx.reject(["publickey"]);
      return "rejected";
    }
    if (!ctx.signature || !ctx.blob) {
      ctx.accept(); // the client signs next
      return "query";
    }
    if (key.parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
      ctx.reject(["publickey"]);
      return "rejected";
    }
    found(lookup.target);
    ctx.accept();
    return "accepted";
  }

  private connectUpstream(t: RelayTarget, log: Logger, onClose: () => void): Upstream {
    const client = new Client();
    let isReady = false;
    const ready = new Promise<void>((resolve, reject) => {
      client.once("ready", () => {
        isReady = true;
        resolve();
      });
      client.on("error", (err: Error) => {
        if (!isReady)
          log.warn({ err: err.message, upstream: `${t.host}:${t.port}` }, "ssh relay: provider unreachable");
        reject(err);
      });
    });
    ready.catch(() => {}); // read by the channels
    // The provider closed (session ended, node stopped): so does the renter's connection. When it never got
    // that far, the renter's channels report why first, and the connection ends a little later.
    client.on("close", () => {
      if (isReady) onClose();
      else setTimeout(onClose, 2_000).unref();
    });
    client.connect({
      host: t.host,
      port: t.port,
      username: t.username,
      privateKey: this.o.clientKey,
      readyTimeout: this.o.connectTimeoutMs ?? 10_000,
      keepaliveInterval: 15_000,
      // Pinned to the host key the provider published on-chain with the session.
      hostVerifier: (key: Buffer) => {
        if (!t.hostKey) return true;
        const expected = Buffer.from(t.hostKey.split(" ")[1] ?? "", "base64");
        const ok = key.equals(expected);
        if (!ok)
          log.warn(
            { expected: fingerprintOf(expected), got: fingerprintOf(key) },
            "ssh relay: provider host key mismatch",
          );
        return ok;
      },
    });
    return { client, ready };
  }

  private onSession(session: Session, relayed: () => Upstream, log: Logger): void {
    let pty: PseudoTtyInfo | undefined;
    const env: Record<string, string> = {};
    let remote: ClientChannel | undefined;

    session.on("pty", (accept, reject, info) => {
      if (remote) return reject?.();
      pty = info;
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      if (pty) Object.assign(pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      remote?.setWindow(info.rows, info.cols, info.height, info.width);
      accept?.();
    });
    session.on("env", (accept, reject, info) => {
      if (!ENV_ALLOWED.test(info.key) || info.val.length > 1024 || Object.keys(env).length >= 32) return reject?.();
      env[info.key] = info.val;
      accept?.();
    });
    session.on("signal", (accept, reject, info) => {
      if (!remote) return reject?.();
      remote.signal(String(info.name).replace(/^SIG/, ""));
      accept?.();
    });

    const open = (channel: ServerChannel, start: (cb: (err: Error | undefined, ch: ClientChannel) => void) => void) => {
      const upstream = relayed();
      upstream.ready.then(
        () =>
          start((err, ch) => {
            if (err) return fail(channel, `the provider refused the channel: ${err.message}`);
            remote = ch;
            splice(channel, ch);
          }),
        (err: Error) => fail(channel, `cannot reach the provider's SSH server: ${err.message}`),
      );
    };
    const ptyOpts = () =>
      pty
        ? { rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width, term: pty.term, modes: pty.modes }
        : undefined;

    session.on("shell", (accept) => {
      const channel = accept();
      const p = ptyOpts();
      open(channel, (cb) => (p ? relayed().client.shell(p, { env }, cb) : relayed().client.shell(false, { env }, cb)));
    });
    session.on("exec", (accept, _reject, info) => {
      const channel = accept();
      const p = ptyOpts();
      open(channel, (cb) => relayed().client.exec(info.command, p ? { env, pty: p } : { env }, cb));
    });
    session.on("subsystem", (accept, reject, info) => {
      if (info.name !== "sftp") return reject?.();
      open(accept(), (cb) => relayed().client.subsys("sftp", cb));
    });
    session.on("close", () => remote?.close());
    void log;
  }
}

/** Joins a renter's channel and the provider's: data both ways, stderr, EOF, then the exit status and close. */
function splice(down: ServerChannel, up: ClientChannel): void {
  down.pipe(up); // the renter's EOF ends the provider's stdin
  up.pipe(down, { end: false });
  up.stderr.pipe(down.stderr, { end: false });
  let exit: [number] | [string, boolean, string] | undefined;
  up.on("exit", (code: number | null, signal?: string, core?: boolean, desc?: string) => {
    exit = code !== null && code !== undefined ? [code] : [signal ?? "KILL", core ?? false, desc ?? ""];
  });
  up.on("close", () => {
    if (down.destroyed) return;
    if (exit?.length === 1) down.exit(exit[0]);
    else if (exit) down.exit(exit[0], exit[1], exit[2]);
    down.end();
  });
  down.on("close", () => up.close());
}

function fail(channel: ServerChannel, message: string): void {
  if (channel.destroyed) return;
  channel.stderr.write(`compute relay: ${message}\r\n`);
  channel.exit(255);
  channel.end();
}

/**
 * The relay of a running relayer: keys kept in `dataDir` (`ssh_relay_host_ed25519_key`, and
 * `ssh_relay_client_ed25519_key` whose `.pub` is what provider nodes list in SSH_RELAY_KEYS), targets read from
 * the chain.
 */
export function createSshRelay(o: {
  dataDir: string;
  publicClient: PublicClient;
  rental: Address;
  registry: Address;
  fromBlock?: bigint;
  port?: number;
  host?: string;
  log: Logger;
}): SshRelay {
  const hostKey = loadOrCreateHostKey(o.dataDir, { file: "ssh_relay_host_ed25519_key", comment: "compute-relay-host" });
  const clientKey = loadOrCreateHostKey(o.dataDir, { file: "ssh_relay_client_ed25519_key", comment: "compute-relay" });
  return new SshRelay({
    resolve: chainTargetResolver({
      publicClient: o.publicClient,
      rental: o.rental,
      registry: o.registry,
      fromBlock: o.fromBlock,
    }),
    hostKey: hostKey.privateKey,
    clientKey: clientKey.privateKey,
    port: o.port,
    host: o.host,
    log: o.log,
  });
}

/** Where createSshRelay keeps the client key's public half (for nodes' SSH_RELAY_KEYS). */
export const relayClientPublicKeyFile = (dataDir: string) => path.join(dataDir, "ssh_relay_client_ed25519_key.pub");
