// Local chain helpers shared by every e2e test and by `npm run dev`: start a real anvil on a free loopback port,
// deploy the protocol with the forge script, and the well-known anvil test keys.
import { type Deployments, readDeployments } from "../deployments.ts";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { foundryBinary } from "./foundry.ts";

const execFileAsync = promisify(execFile);

/** Repository root (this file lives in sdk/src/testing/). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The platform binaries Foundry's npm packages install (never the wrappers in node_modules/.bin; see foundry.ts). */
export const foundryBin = {
  get anvil(): string {
    return foundryBinary("anvil", repoRoot);
  },
  get forge(): string {
    return foundryBinary("forge", repoRoot);
  },
  get cast(): string {
    return foundryBinary("cast", repoRoot);
  },
};

/** Anvil's default accounts (mnemonic "test test … junk"), each funded with 10,000 ETH. Never use elsewhere. */
export const anvilAccounts = [
  {
    address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  },
  {
    address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  },
  {
    address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    privateKey: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  },
  {
    address: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    privateKey: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  },
  {
    address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    privateKey: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  },
  {
    address: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    privateKey: "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  },
  {
    address: "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    privateKey: "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  },
  {
    address: "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    privateKey: "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  },
  {
    address: "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    privateKey: "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  },
  {
    address: "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
    privateKey: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
  },
] as const satisfies readonly { address: Address; privateKey: Hex }[];

/** Anvil key #0: the deployer (admin, treasury, LocalUSDC minter) in local deployments. */
export const deployerKey: Hex = anvilAccounts[0].privateKey;

export interface StartAnvilOptions {
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  /** Seconds between blocks; default: mine on every transaction. */
  blockTime?: number;
  /** Chain id; default 31337 (the only chain where LocalUSDC mints). */
  chainId?: number;
  /** How long to wait for the first answer, ms; default 30 s. */
  timeoutMs?: number;
}

export interface AnvilInstance {
  rpcUrl: string;
  port: number;
  chainId: number;
  /** Kills anvil and waits for it to exit. Idempotent. */
  stop: () => Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not get a free port"));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

async function rpcChainId(rpcUrl: string): Promise<number | undefined> {
  try {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await res.json()) as { result?: string };
    return body.result === undefined ? undefined : Number.parseInt(body.result, 16);
  } catch {
    return undefined;
  }
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort so a crashed test run never leaves anvil behind.
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

/** Starts anvil on 127.0.0.1 and resolves once it answers JSON-RPC. Retries on a port race. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  const chainId = options.chainId ?? 31337;
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(port, chainId, options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function launch(port: number, chainId: number, options: StartAnvilOptions): Promise<AnvilInstance> {
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--silent"];
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));
  const child = spawn(foundryBin.anvil, args, { stdio: ["ignore", "ignore", "pipe"] });
  installExitHook();
  running.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit();
    else child.once("exit", () => resolveExit());
  });
  exited.then(() => running.delete(child));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`anvil exited (${child.exitCode ?? child.signalCode}) on port ${port}: ${stderr.trim()}`);
    }
    if ((await rpcChainId(rpcUrl)) === chainId) return { rpcUrl, port, chainId, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`anvil did not answer on ${rpcUrl} within ${options.timeoutMs ?? 30_000} ms: ${stderr.trim()}`);
}

export { type Deployments, readDeployments } from "../deployments.ts";

export interface DeployContractsOptions {
  rpcUrl: string;
  /** Deployer (admin, treasury); default anvil key #0. */
  privateKey?: Hex;
  /** Where the script writes the JSON; must be under deployments/ or /tmp (foundry.toml fs_permissions). */
  deploymentsFile: string;
  /** Extra environment for the script, e.g. TREASURY, PROTOCOL_FEE_BPS. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs `forge script script/Deploy.s.sol --broadcast` against `rpcUrl` and returns the parsed deployments. */
export async function deployContracts(options: DeployContractsOptions): Promise<Deployments> {
  const privateKey = options.privateKey ?? deployerKey;
  const deploymentsFile = resolve(options.deploymentsFile);
  try {
    await execFileAsync(
      foundryBin.forge,
      ["script", "script/Deploy.s.sol", "--rpc-url", options.rpcUrl, "--broadcast", "--silent", "--non-interactive"],
      {
        cwd: repoRoot,
        env: { ...process.env, ...options.env, PRIVATE_KEY: privateKey, DEPLOYMENTS_FILE: deploymentsFile },
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`forge script Deploy.s.sol failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
  return readDeployments(deploymentsFile);
}

/** Address of a private key (re-exported for tests that pick an anvil key). */
export function addressOf(privateKey: Hex): Address {
  return privateKeyToAddress(privateKey);
}
