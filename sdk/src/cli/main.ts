/**
 * The `compute` CLI on top of {@link ComputeClient}. Every command prints readable lines (or `--json`), errors
 * as one `error: …` line on stderr and a non-zero exit code (1: failed, 2: usage).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os, { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Address, formatUnits, type Hex, isAddress, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ComputeClient } from "../client/client.ts";
import { ComputeApiError, ComputeContractError, ComputeError } from "../client/errors.ts";
import type { CreateSessionStage, Session } from "../client/types.ts";

export const DEFAULT_ENDPOINT = "http://127.0.0.1:4007";

export const USAGE = `compute — rent GPUs on the Compute marketplace

Usage:
  compute providers [--model NAME] [--min-gpus N] [--json]
  compute rent --provider <id> --hours N [--gpus N] --key ~/.ssh/id_ed25519.pub [--token usdc|eth|0x…] [--gasless]
  compute status <sessionId> [--json]
  compute ssh <sessionId> [-i ~/.ssh/id_ed25519] [-o SshOption …] [-- command …]
  compute extend <sessionId> --hours N
  compute end <sessionId> [--gasless]
  compute cancel <sessionId>      a session the provider never started: full refund, provider slashed
  compute report-downtime <provider>   a provider silent for over 4 hours: deactivated, slashed, you are paid a share
  compute withdraw [--token usdc|eth|0x…]

Options:
  --endpoint URL       node or gateway (env COMPUTE_ENDPOINT, default ${DEFAULT_ENDPOINT})
  --private-key 0x…    renter key (env PRIVATE_KEY); needed by rent, extend, end, cancel, report-downtime, withdraw
  --rpc-url URL        JSON-RPC (env RPC_URL, default http://127.0.0.1:8545)
  --timeout SECONDS    rent: how long to wait for the provider (default 120)
  -h, --help           this text
`;

class UsageError extends Error {}

type Io = { out: (line: string) => void; err: (line: string) => void };
const defaultIo: Io = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

const STAGE_TEXT: Record<CreateSessionStage, string> = {
  quoting: "Quoting the price on-chain…",
  approving: "Approving the rental contract to take the payment…",
  submitting: "Sending createSession…",
  signing: "Signing the USDC authorization (gasless)…",
  relaying: "Relaying the session through the relayer (it pays the gas)…",
  confirmed: "Session created",
  provisioning: "Waiting for the provider to start your container…",
  active: "Session active",
};

function expandHome(path: string): string {
  return path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
}

export function sshArgs(
  ssh: { host: string; port: number; username: string },
  opts: { identity?: string; options?: string[] } = {},
): string[] {
  const args = ["-p", String(ssh.port)];
  if (opts.identity) args.push("-i", opts.identity);
  for (const o of opts.options ?? []) args.push("-o", o);
  args.push(`${ssh.username}@${ssh.host}`);
  return args;
}

function amount(value: bigint, token: Address, usdc: Address | undefined): string {
  if (token === zeroAddress) return `${formatUnits(value, 18)} ETH`;
  if (usdc && token.toLowerCase() === usdc.toLowerCase()) return `${formatUnits(value, 6)} USDC`;
  return `${value} (token ${token})`;
}

/** What to do about the reverts a renter meets most, after the contract's own words. */
function revertHint(err: ComputeContractError): string {
  if (err.errorName === "InsufficientGpus") {
    return `: the provider has ${String(err.args[2])} GPU(s) free; ask for fewer (--gpus 0 rents CPU only) or pick another provider (compute providers)`;
  }
  if (err.errorName === "ProviderNotActive") {
    return ": the provider is not active (deactivated, or reported for downtime); pick another one (compute providers)";
  }
  return "";
}

/** Reverts that only mean "not yet": said in words, with the time the action becomes possible. */
function notYet(err: ComputeContractError): string | undefined {
  const iso = (v: unknown) => new Date(Number(v) * 1000).toISOString();
  if (err.errorName === "ProvisionTimeoutNotReached") {
    return `session ${String(err.args[0])} can be cancelled from ${iso(err.args[1])}: its provider has until then to start it.`;
  }
  if (err.errorName === "ProviderNotDown") {
    return `provider ${String(err.args[0])} heartbeated recently; it can be reported from ${iso(err.args[2])} if it stays silent.`;
  }
  return undefined;
}

function describeError(err: unknown): string {
  if (err instanceof ComputeContractError) return notYet(err) ?? err.message + revertHint(err);
  if (err instanceof ComputeApiError) return err.message;
  if (err instanceof ComputeError || err instanceof UsageError) return err.message;
  if (err instanceof Error) {
    const short = (err as { shortMessage?: string }).shortMessage;
    return short ?? err.message.split("\n")[0] ?? String(err);
  }
  return String(err);
}

export async function main(argv: string[], io: Io = defaultIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dashDash = argv.indexOf("--");
  const remote = dashDash >= 0 ? argv.slice(dashDash + 1) : [];
  const args = dashDash >= 0 ? argv.slice(0, dashDash) : argv;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    io.err(`error: ${describeError(err)}`);
    io.err("Run `compute --help` for usage.");
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (v.help || command === undefined || command === "help") {
    io.out(USAGE);
    return command === undefined && !v.help ? 2 : 0;
  }
  const endpoint = v.endpoint ?? env.COMPUTE_ENDPOINT ?? DEFAULT_ENDPOINT;
  const key = (v["private-key"] ?? env.PRIVATE_KEY) as Hex | undefined;
  const rpcUrl = v["rpc-url"] ?? env.RPC_URL;
  try {
    const wallet = key ? privateKeyToAccount(key.startsWith("0x") ? key : (`0x${key}` as Hex)) : undefined;
    const compute = new ComputeClient({ endpoint, wallet, rpcUrl });
    const needWallet = () => {
      if (!wallet) throw new UsageError("set PRIVATE_KEY (or --private-key) to the renter's key.");
    };
    const tokenOf = async (name: string | undefined): Promise<Address | undefined> => {
      if (name === undefined) return undefined;
      const n = name.toLowerCase();
      if (n === "eth") return zeroAddress;
      if (n === "usdc") return (await compute.network()).contracts.USDC;
      if (isAddress(name)) return name;
      throw new UsageError(`--token must be usdc, eth or a token address (got '${name}').`);
    };
    const sessionArg = (): string => {
      const id = rest[0];
      if (id === undefined) throw new UsageError(`${command}: missing <sessionId>.`);
      return id;
    };

    switch (command) {
      case "providers": {
        const providers = await compute.listProviders({
          model: v.model,
          minGpus: v["min-gpus"] === undefined ? undefined : Number(v["min-gpus"]),
        });
        if (v.json) {
          io.out(JSON.stringify(providers, null, 2));
          return 0;
        }
        if (providers.length === 0) {
          io.out("No providers found.");
          return 0;
        }
        for (const p of providers) {
          const gpus = p.hardware.gpus;
          const rate = p.pricing.hourlyRate;
          io.out(
            `${p.id}  ${gpus.count > 0 ? `${gpus.count}× ${gpus.model ?? "GPU"}` : "CPU only"}  ` +
              `${p.availability.gpusAvailable}/${p.availability.gpusTotal} GPUs free  ` +
              `${rate ? `${rate.formatted ?? rate.amount} ${rate.symbol ?? rate.token}/GPU-hour` : "no price"}  ${p.status}  ${p.endpoint}`,
          );
        }
        return 0;
      }

      case "rent": {
        needWallet();
        if (!v.provider) throw new UsageError("rent: --provider <id> is required.");
        if (!v.hours) throw new UsageError("rent: --hours N is required.");
        if (!v.key) throw new UsageError("rent: --key <ssh public key file> is required.");
        const keyPath = expandHome(v.key);
        let sshPublicKey: string;
        try {
          sshPublicKey = readFileSync(keyPath, "utf8").trim();
        } catch {
          throw new UsageError(`rent: cannot read the ssh public key ${keyPath}.`);
        }
        const hours = Number(v.hours);
        const gpus = Number(v.gpus ?? "1");
        if (!Number.isSafeInteger(hours) || hours <= 0)
          throw new UsageError("rent: --hours must be a positive integer.");
        if (!Number.isSafeInteger(gpus) || gpus < 0)
          throw new UsageError("rent: --gpus must be a non-negative integer.");
        const net = await compute.network();
        const paymentToken = await tokenOf(v.token);
        const session = await compute.createSession({
          providerId: v.provider,
          durationHours: hours,
          gpuCount: gpus,
          sshPublicKey,
          paymentToken,
          gasless: v.gasless ? true : undefined,
          timeoutMs: v.timeout === undefined ? undefined : Number(v.timeout) * 1000,
          onProgress: (stage, detail) => {
            const extra = stage === "confirmed" && detail ? ` (id ${detail.sessionId}, tx ${detail.txHash})` : "";
            io.err(`${stage === "confirmed" || stage === "active" ? "✓" : "→"} ${STAGE_TEXT[stage]}${extra}`);
          },
        });
        const identity = keyPath.endsWith(".pub") ? keyPath.slice(0, -4) : undefined;
        io.out(
          `Session ${session.id} is active: ${session.gpuCount} GPU(s) for ${session.durationHours} h, prepaid ${amount(session.prepaid, session.token, net.contracts.USDC)}${session.gasless ? " (gasless)" : ""}.`,
        );
        if (session.expiresAt) io.out(`Expires ${new Date(session.expiresAt * 1000).toISOString()}.`);
        io.out("Connect with:");
        io.out(
          `  ssh ${sshArgs(session.ssh, { identity: v.key && identity ? v.key.replace(/\.pub$/, "") : undefined }).join(" ")}`,
        );
        io.out(`  compute ssh ${session.id}`);
        const hostKey = await compute.sshHostKey(session.id).catch(() => undefined);
        if (hostKey) {
          const fp = createHash("sha256")
            .update(Buffer.from(hostKey.split(" ")[1] ?? "", "base64"))
            .digest("base64")
            .replace(/=+$/, "");
          io.out(`Host key (published on-chain with the session; compute ssh checks it): SHA256:${fp}`);
        }
        io.out(`End early (unused time refunded): compute end ${session.id}`);
        return 0;
      }

      case "status": {
        const s = await compute.getSession(sessionArg());
        if (v.json) {
          io.out(JSON.stringify(s, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 2));
          return 0;
        }
        const usdc = await compute
          .network()
          .then((n) => n.contracts.USDC)
          .catch(() => undefined);
        printSession(io, s, usdc);
        return 0;
      }

      case "ssh": {
        const s = await compute.getSession(sessionArg());
        if (s.status !== "active" || !s.ssh)
          throw new ComputeError("session_not_active", `Session ${s.id} is ${s.status}; ssh needs an active session.`);
        // The provider's host key as published on-chain with the session: ssh checks it strictly, so there is
        // no "authenticity can't be established" prompt and no way for someone in between to answer instead.
        // Without a wallet (no chain access) or when the user set host-key options, ssh decides as usual.
        const userHostKeyOpts = (v.option ?? []).some((o) =>
          /^(StrictHostKeyChecking|UserKnownHostsFile|GlobalKnownHostsFile)\b/i.test(o),
        );
        const hostKey = userHostKeyOpts || !wallet ? undefined : await compute.sshHostKey(s.id).catch(() => undefined);
        let pinDir: string | undefined;
        const pin: string[] = [];
        if (hostKey) {
          pinDir = mkdtempSync(path.join(os.tmpdir(), "compute-ssh-"));
          const file = path.join(pinDir, "known_hosts");
          writeFileSync(file, `${s.ssh.port === 22 ? s.ssh.host : `[${s.ssh.host}]:${s.ssh.port}`} ${hostKey}\n`, {
            mode: 0o600,
          });
          pin.push("-o", `UserKnownHostsFile=${file}`, "-o", "StrictHostKeyChecking=yes");
        }
        const argvSsh = [
          ...pin,
          ...sshArgs(s.ssh, {
            identity: v.identity ? expandHome(v.identity) : undefined,
            options: v.option,
          }),
          ...remote,
        ];
        try {
          return await new Promise<number>((resolve) => {
            const child = spawn("ssh", argvSsh, { stdio: "inherit" });
            child.on("error", (err) => {
              io.err(`error: cannot run ssh (${err.message}).`);
              resolve(1);
            });
            child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
          });
        } finally {
          if (pinDir) rmSync(pinDir, { recursive: true, force: true });
        }
      }

      case "extend": {
        needWallet();
        if (!v.hours) throw new UsageError("extend: --hours N is required.");
        const hours = Number(v.hours);
        if (!Number.isSafeInteger(hours) || hours <= 0)
          throw new UsageError("extend: --hours must be a positive integer.");
        const net = await compute.network();
        const r = await compute.extendSession(sessionArg(), hours);
        io.out(
          `Session ${r.id} extended by ${r.addedHours} h for ${amount(r.paid, r.token, net.contracts.USDC)}: ${r.durationHours} h paid in all (${amount(r.prepaid, r.token, net.contracts.USDC)}).`,
        );
        if (r.expiresAt > 0) io.out(`Expires ${new Date(r.expiresAt * 1000).toISOString()}.`);
        io.out(`Transaction: ${r.txHash}`);
        return 0;
      }

      case "end": {
        needWallet();
        const net = await compute.network();
        const r = await compute.endSessionDetailed(sessionArg(), {
          gasless: v.gasless ? true : undefined,
        });
        io.out(
          `Session ${r.id} ended${r.gasless ? " (gasless)" : ""}. Refund: ${amount(r.refund, r.token, net.contracts.USDC)}.`,
        );
        if (r.refundCredited)
          io.out(
            `The refund is credited in the rental contract: compute withdraw --token ${r.token === zeroAddress ? "eth" : r.token === net.contracts.USDC ? "usdc" : r.token}`,
          );
        else if (r.refund > 0n) io.out("The refund was sent to your wallet.");
        io.out(`Transaction: ${r.txHash}`);
        return 0;
      }

      case "cancel": {
        needWallet();
        const net = await compute.network();
        const r = await compute.cancelSession(sessionArg());
        const withdrawHint = `compute withdraw --token ${r.token === zeroAddress ? "eth" : r.token === net.contracts.USDC ? "usdc" : r.token}`;
        io.out(`Session ${r.id} cancelled: its provider did not start it in time.`);
        io.out(
          `Refund: ${amount(r.refund, r.token, net.contracts.USDC)} (all of it), credited in the rental contract: ${withdrawHint}`,
        );
        if (r.slashed > 0n)
          io.out(
            `The provider's stake was slashed ${amount(r.slashed, zeroAddress, undefined)}, credited to you in the registry: compute withdraw --token eth`,
          );
        io.out(`Transaction: ${r.txHash}`);
        return 0;
      }

      case "report-downtime": {
        needWallet();
        const id = rest[0];
        if (id === undefined) throw new UsageError("report-downtime: missing <provider>.");
        const r = await compute.reportDowntime(id);
        io.out(
          `Provider ${r.provider} reported for over 4 hours without a heartbeat: deactivated, stake slashed ${amount(r.slashed, zeroAddress, undefined)}.`,
        );
        io.out(
          `Your share: ${amount(r.reward, zeroAddress, undefined)}, credited in the registry: compute withdraw --token eth`,
        );
        io.out(`Transaction: ${r.txHash}`);
        return 0;
      }

      case "withdraw": {
        needWallet();
        const net = await compute.network();
        const token = (await tokenOf(v.token)) ?? zeroAddress;
        const credit = await compute.credits(token);
        // ETH also sweeps the registry's credits: slashes paid to this renter.
        const compensation = token === zeroAddress ? await compute.compensation() : 0n;
        if (credit === 0n && compensation === 0n) {
          io.out(`Nothing to withdraw in ${amount(0n, token, net.contracts.USDC).split(" ").slice(1).join(" ")}.`);
          return 0;
        }
        if (credit > 0n) io.out(`Withdrew ${amount(await compute.withdraw(token), token, net.contracts.USDC)}.`);
        if (compensation > 0n) {
          io.out(
            `Withdrew ${amount(await compute.withdrawCompensation(), zeroAddress, undefined)} of slash compensation from the registry.`,
          );
        }
        return 0;
      }

      default:
        throw new UsageError(`unknown command '${command}'.`);
    }
  } catch (err) {
    io.err(`error: ${describeError(err)}`);
    if (err instanceof UsageError) {
      io.err("Run `compute --help` for usage.");
      return 2;
    }
    return 1;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean" },
      endpoint: { type: "string" },
      "private-key": { type: "string" },
      "rpc-url": { type: "string" },
      provider: { type: "string" },
      hours: { type: "string" },
      gpus: { type: "string" },
      key: { type: "string" },
      token: { type: "string" },
      gasless: { type: "boolean" },
      timeout: { type: "string" },
      model: { type: "string" },
      "min-gpus": { type: "string" },
      identity: { type: "string", short: "i" },
      option: { type: "string", short: "o", multiple: true },
    },
  });
}

function printSession(io: Io, s: Session, usdc: Address | undefined): void {
  const t = (x: number | null) => (x ? new Date(x * 1000).toISOString() : "—");
  io.out(`Session ${s.id}: ${s.status}`);
  io.out(`  provider   ${s.provider}`);
  io.out(`  renter     ${s.renter}`);
  io.out(`  gpus       ${s.gpuCount} for ${s.durationHours} h at ${amount(s.ratePerHour, s.token, usdc)}/GPU-hour`);
  io.out(
    `  prepaid    ${amount(s.prepaid, s.token, usdc)}   used ${amount(s.used, s.token, usdc)}   refundable now ${amount(s.refundableNow, s.token, usdc)}`,
  );
  io.out(
    `  created    ${t(s.createdAt)}   active since ${t(s.activatedAt)}   expires ${t(s.expiresAt)}   ended ${t(s.endedAt)}`,
  );
  if (s.ssh) io.out(`  ssh        ssh ${sshArgs(s.ssh).join(" ")}`);
}
