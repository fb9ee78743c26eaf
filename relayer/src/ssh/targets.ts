/**
 * Where the SSH relay may take a renter, read from the chain only.
 *
 * `s<id>` names rental session `id`. The relay connects only when, on-chain:
 * - the session is Active (ComputeRental.getSession), and its provider is registered and active
 *   (ComputeRegistry.getProvider);
 * - the address comes from the session's own SessionActivated event: `activateSession` can only be sent by the
 *   session's provider, so the relay never dials an address a registered provider did not publish for this
 *   session (and its `hostKey`, when present, pins the provider's SSH host key);
 * - the renter's key is the one in the session's SessionCreated event.
 * The status and the provider are read at every login; the events (which never change once the session is
 * active) are kept per session (`maxCached` sessions).
 */
import { computeRegistryAbi, computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import type { Address, PublicClient } from "viem";

export type RelayTarget = {
  sessionId: bigint;
  provider: Address;
  /** The renter's OpenSSH public key line, from SessionCreated. */
  sshPublicKey: string;
  /** From SessionActivated's connection JSON. */
  host: string;
  port: number;
  username: string;
  /** The provider's SSH host public key (`ssh-ed25519 AAAA…`), when the provider published one. */
  hostKey?: string;
};

export type TargetLookup = { ok: true; target: RelayTarget } | { ok: false; reason: string };
export type TargetResolver = (sessionId: bigint) => Promise<TargetLookup>;

const ACTIVE = 2;

export type ChainTargetOptions = {
  publicClient: PublicClient;
  rental: Address;
  registry: Address;
  /** First block with rental events (the deployment block). */
  fromBlock?: bigint;
  /** Sessions whose events are kept (default 1000). */
  maxCached?: number;
};

/** An OpenSSH public key line without comment, as a node publishes its host key. */
export const HOST_KEY_LINE = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/;

/** The connection JSON a node publishes with activateSession, checked field by field. */
export function parseConnection(text: string): Pick<RelayTarget, "host" | "port" | "username" | "hostKey"> | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== "object" || j === null) return undefined;
  const { host, port, username, hostKey } = j as Record<string, unknown>;
  if (typeof host !== "string" || !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) return undefined;
  const p = Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65535) return undefined;
  if (typeof username !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(username)) return undefined;
  if (hostKey !== undefined && (typeof hostKey !== "string" || !HOST_KEY_LINE.test(hostKey))) return undefined;
  return { host: host.replace(/^\[(.*)\]$/, "$1"), port: p, username, ...(hostKey ? { hostKey } : {}) };
}

export function chainTargetResolver(o: ChainTargetOptions): TargetResolver {
  const events = new Map<bigint, Omit<RelayTarget, "sessionId" | "provider">>();
  const maxCached = o.maxCached ?? 1000;
  const fromBlock = o.fromBlock ?? 0n;

  return async (sessionId) => {
    const s = await o.publicClient.readContract({
      address: o.rental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [sessionId],
    });
    if (s.status !== ACTIVE) return { ok: false, reason: `session ${sessionId} is not active` };
    const p = await o.publicClient.readContract({
      address: o.registry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [s.provider],
    });
    if (!p.registered || !p.active)
      return { ok: false, reason: `provider ${s.provider} is not an active registered provider` };

    let known = events.get(sessionId);
    if (!known) {
      const [created, activated] = await Promise.all([
        o.publicClient.getContractEvents({
          address: o.rental,
          abi: computeRentalAbi,
          eventName: "SessionCreated",
          args: { sessionId },
          fromBlock,
          strict: true,
        }),
        o.publicClient.getContractEvents({
          address: o.rental,
          abi: computeRentalAbi,
          eventName: "SessionActivated",
          args: { sessionId },
          fromBlock,
          strict: true,
        }),
      ]);
      const c = created.at(-1);
      const a = activated.at(-1);
      if (!c || !a) return { ok: false, reason: `session ${sessionId}: events not found on this RPC` };
      if (a.args.provider.toLowerCase() !== s.provider.toLowerCase()) {
        return { ok: false, reason: `session ${sessionId}: activation by another provider` };
      }
      const conn = parseConnection(a.args.connection);
      if (!conn) return { ok: false, reason: `session ${sessionId}: the provider published no usable SSH address` };
      known = { sshPublicKey: c.args.sshPublicKey, ...conn };
      if (events.size >= maxCached) events.delete(events.keys().next().value as bigint);
      events.set(sessionId, known);
    }
    return { ok: true, target: { sessionId, provider: s.provider, ...known } };
  };
}
