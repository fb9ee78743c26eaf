/**
 * Host guard: session containers must not reach services on the provider's own machine.
 *
 * Docker isolates bridges from each other (DOCKER-ISOLATION chains) but lets a container open connections
 * to any address of its host: the bridge gateway, the host's LAN and public addresses. A service bound to
 * 0.0.0.0 (a database, the node's admin ports, a cloud metadata proxy) would be open to every renter.
 * Every session bridge is named `cmp…` (see ContainerManager.bridgeName), so one INPUT rule covers all of
 * them: packets arriving from a session bridge for the host itself are rejected unless they belong to a
 * connection the host opened. Forwarded traffic (the internet, published ports) does not pass INPUT and is
 * untouched; the container's DNS is Docker's embedded resolver inside its own network namespace.
 *
 * Needs root (CAP_NET_ADMIN) and iptables; without them the node warns and prints the rules to add.
 */
import { execFile } from "node:child_process";
import type { Logger } from "../logger.ts";

export const BRIDGE_PREFIX = "cmp";
export const GUARD_CHAIN = "COMPUTE-HOST-GUARD";

export type Run = (file: string, args: string[]) => Promise<{ code: number; stderr: string }>;

const runFile: Run = (file, args) =>
  new Promise((resolve) => {
    execFile(file, args, { timeout: 15_000 }, (err, _stdout, stderr) => {
      const code =
        err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 127;
      resolve({ code, stderr: String(stderr || (err?.message ?? "")) });
    });
  });

/** The guard chain's rules, in order (iptables arguments after `-A <chain>`). */
export const GUARD_RULES: readonly string[][] = [
  ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"],
  ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
  ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
];

const JUMP = ["-i", `${BRIDGE_PREFIX}+`, "-j", GUARD_CHAIN];

/** The commands an operator can run by hand when the node cannot install the guard itself. */
export function guardCommands(iptables = "iptables"): string[] {
  return [
    `${iptables} -N ${GUARD_CHAIN}`,
    ...GUARD_RULES.map((r) => `${iptables} -A ${GUARD_CHAIN} ${r.join(" ")}`),
    `${iptables} -I INPUT 1 ${JUMP.join(" ")}`,
  ];
}

/**
 * Install (or refresh) the guard: idempotent, safe to run at every start and from several processes
 * (`-w` waits for the xtables lock). Returns whether it is in place.
 */
export async function ensureHostGuard(log: Logger, opts: { iptables?: string; run?: Run } = {}): Promise<boolean> {
  const iptables = opts.iptables ?? "iptables";
  const run = opts.run ?? runFile;
  const ipt = (...args: string[]) => run(iptables, ["-w", ...args]);
  const fail = (step: string, stderr: string) => {
    log.warn(
      { step, error: stderr.trim(), commands: guardCommands(iptables) },
      "could not install the host guard: session containers can reach services on this machine; run these commands as root",
    );
    return false;
  };

  const exists = await ipt("-n", "-L", GUARD_CHAIN);
  if (exists.code !== 0) {
    const created = await ipt("-N", GUARD_CHAIN);
    if (created.code !== 0 && !/exists/i.test(created.stderr)) return fail("create chain", created.stderr);
  }
  const flushed = await ipt("-F", GUARD_CHAIN);
  if (flushed.code !== 0) return fail("flush chain", flushed.stderr);
  for (const rule of GUARD_RULES) {
    const added = await ipt("-A", GUARD_CHAIN, ...rule);
    if (added.code !== 0) return fail("add rule", added.stderr);
  }
  const jumps = await ipt("-C", "INPUT", ...JUMP);
  if (jumps.code !== 0) {
    const inserted = await ipt("-I", "INPUT", "1", ...JUMP);
    if (inserted.code !== 0) return fail("jump from INPUT", inserted.stderr);
  }
  log.info(
    { chain: GUARD_CHAIN, bridges: `${BRIDGE_PREFIX}+` },
    "host guard in place: session containers cannot open connections to this machine",
  );
  return true;
}
