import { describe, expect, it } from "vitest";
import pino from "pino";
import { ensureHostGuard, guardCommands, type Run } from "./hostguard.ts";

/** A pino logger that keeps its lines. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

describe("ensureHostGuard", () => {
  it("without permission, warns with the exact commands to run and reports false", async () => {
    const calls: string[][] = [];
    const run: Run = async (_file, args) => {
      calls.push(args);
      return {
        code: 4,
        stderr:
          "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n",
      };
    };
    const { log, lines } = capture();
    expect(await ensureHostGuard(log, { run })).toBe(false);
    expect(calls).toEqual([
      ["-w", "-n", "-L", "COMPUTE-HOST-GUARD"],
      ["-w", "-N", "COMPUTE-HOST-GUARD"],
    ]);
    const warn = lines.find((l) => l.level === 40);
    expect(warn?.msg).toMatch(/session containers can reach services on this machine/);
    expect(warn?.error).toMatch(/Permission denied/);
    expect(warn?.commands).toEqual([
      "iptables -N COMPUTE-HOST-GUARD",
      "iptables -A COMPUTE-HOST-GUARD -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
      "iptables -A COMPUTE-HOST-GUARD -p tcp -j REJECT --reject-with tcp-reset",
      "iptables -A COMPUTE-HOST-GUARD -j REJECT --reject-with icmp-port-unreachable",
      "iptables -I INPUT 1 -i cmp+ -j COMPUTE-HOST-GUARD",
    ]);
    expect(guardCommands()).toEqual(warn?.commands);
  });

  it("is idempotent: an existing chain is refreshed and the INPUT jump is not added twice", async () => {
    const calls: string[][] = [];
    const run: Run = async (_file, args) => {
      calls.push(args);
      return { code: 0, stderr: "" };
    };
    expect(await ensureHostGuard(capture().log, { run })).toBe(true);
    expect(calls.map((a) => a[1])).toEqual(["-n", "-F", "-A", "-A", "-A", "-C"]);
  });
});
