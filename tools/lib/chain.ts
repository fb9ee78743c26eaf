/**
 * Local chain helpers: anvil from the npm-installed Foundry binaries, the forge deploy script, cast.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Deployments, readDeployments } from "@jeju/compute-sdk/deployments";
import { foundryBin } from "@jeju/compute-sdk/testing/anvil";
import { type ManagedProcess, start, waitFor } from "./process.ts";

export type { Deployments };

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

// The platform binaries (never the npm wrappers in node_modules/.bin, which lose the exit status).
export { foundryBin };

/** Anvil's default accounts (mnemonic "test test … junk"): #0 deployer/admin, #1 the local provider. */
export const ANVIL_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
] as const;

export type Anvil = { proc: ManagedProcess; rpcUrl: string; port: number };

export async function startAnvil({
  port,
  host = "127.0.0.1",
  chainId = 31337,
  logFile,
  extraArgs = [],
}: {
  port: number;
  host?: string;
  chainId?: number;
  logFile?: string;
  extraArgs?: string[];
}): Promise<Anvil> {
  const proc = start(
    foundryBin.anvil,
    ["--host", host, "--port", String(port), "--chain-id", String(chainId), ...extraArgs],
    {
      name: "anvil",
      logFile,
    },
  );
  const rpcUrl = `http://${host}:${port}`;
  await waitFor(`anvil on ${rpcUrl}`, () => rpc(rpcUrl, "eth_chainId").then(() => true), { timeoutMs: 15_000, proc });
  return { proc, rpcUrl, port };
}

let rpcId = 0;
/** One JSON-RPC call. */
export async function rpc<T = unknown>(rpcUrl: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** Runs a binary, resolves stdout (trimmed); rejects with stderr on failure. */
export function run(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? REPO_ROOT,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${stderr || err.message}\n${stdout}`));
        else resolve(stdout.trim());
      },
    );
  });
}

/** `cast …` (cast's own env: RPC URL and key go in args). */
export const cast = (args: string[], env?: NodeJS.ProcessEnv) => run(foundryBin.cast, args, { env });

/**
 * `forge script script/Deploy.s.sol --broadcast` against `rpcUrl`, writing `deploymentsFile`; returns its
 * contents.
 */
export async function deployContracts({
  rpcUrl,
  deploymentsFile,
  privateKey = ANVIL_KEYS[0],
  env = {},
}: {
  rpcUrl: string;
  deploymentsFile: string;
  privateKey?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Deployments> {
  await run(
    foundryBin.forge,
    ["script", "script/Deploy.s.sol", "--rpc-url", rpcUrl, "--broadcast", "--non-interactive", "-q"],
    {
      env: { ...process.env, ...env, PRIVATE_KEY: privateKey, DEPLOYMENTS_FILE: deploymentsFile },
      timeoutMs: 300_000,
    },
  );
  return readDeployments(deploymentsFile);
}
