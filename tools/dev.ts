/**
 * `npm run dev`: the whole stack on loopback, offline, in one command.
 *
 *   anvil (chain 31337, 127.0.0.1:8545) → forge deploy (deployments/31337.json) → fund a dev renter (USDC, ETH
 *   dust) → register this machine as a provider (anvil key #1: stake, detected hardware, models, prices) →
 *   indexer (fresh state, :42069) → relayer (:4010, if present; SSH relay :2223) → node (:4007, embedded model,
 *   SSH :2222, trusting the relay's key).
 *
 * Ctrl-C (or SIGTERM) stops everything it started: each child leads its own process group, and the whole
 * group is signalled, so no tsx wrapper, ponder worker or model process survives. Run it again for a fresh
 * chain and a fresh indexer.
 *
 * Environment: DEV_VERBOSE=1 streams every child's log lines; MAX_RENTALS (default 4); DEV_USDC_PRICE_PER_HOUR
 * (USDC units per GPU-hour, default 500000 with GPUs, 100000 CPU-only); MODEL_BACKEND is passed to the node.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { localUsdcAbi } from "@jeju/compute-sdk/abis/index";
import { registerProvider } from "@jeju/compute-sdk/actions/index";
import type { TeeType } from "@jeju/compute-sdk/indexer/types";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  formatEther,
  formatUnits,
  type Hex,
  http,
  keccak256,
  parseEther,
  toBytes,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { detectHardware, type HardwareInfo } from "../node/src/hardware/detect.ts";
import { ANVIL_KEYS, type Deployments, deployContracts, foundryBin, REPO_ROOT, run } from "./lib/chain.ts";
import { INDEXER_DIR, PONDER_BIN } from "./lib/indexer.ts";
import { isPortTaken } from "./lib/ports.ts";
import { groupAlive, type ManagedProcess, start, waitFor, waitForHttp } from "./lib/process.ts";

const HOST = "127.0.0.1";
// The node's SSH server has the docs' 2222; on one machine the relayer's SSH relay takes the next port.
const PORTS = { anvil: 8545, indexer: 42069, node: 4007, relayer: 4010, ssh: 2222, sshRelay: 2223 } as const;
const RPC_URL = `http://${HOST}:${PORTS.anvil}`;
const INDEXER_URL = `http://${HOST}:${PORTS.indexer}`;
const NODE_URL = `http://${HOST}:${PORTS.node}`;
const RELAYER_URL = `http://${HOST}:${PORTS.relayer}`;
const DEPLOYMENTS_FILE = path.join(REPO_ROOT, "deployments", "31337.json");
const DATA_DIR = path.join(REPO_ROOT, ".data", "dev");
const LOG_DIR = path.join(DATA_DIR, "logs");
const TSX_CLI = path.join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs");

const DEPLOYER_KEY = ANVIL_KEYS[0];
const PROVIDER_KEY = ANVIL_KEYS[1];
/**
 * A fixed, publicly known dev key: keccak256("compute dev renter"). It holds local USDC and only ETH dust, so it
 * exercises the gasless paths (x402, relayed sessions). Never use it on a real chain.
 */
const RENTER_KEY = keccak256(toBytes("compute dev renter"));
const RENTER_ETH = parseEther("0.001");
const RENTER_USDC = 10_000n * 10n ** 6n;

const verbose = process.env.DEV_VERBOSE === "1";
const tty = process.stdout.isTTY === true;
const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const bold = paint(1);
const cyan = paint(36);

const children: ManagedProcess[] = [];
let shuttingDown = false;
let shutdownAt = 0;
const t0 = performance.now();

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs one boot step, printing it with its duration. */
async function step<T>(label: string, fn: () => Promise<T>, detail?: (v: T) => string): Promise<T> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  if (process.stdout.isTTY) {
    const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    let i = 0;
    timer = setInterval(() => {
      process.stdout.write(
        `\r${cyan(frames[i++ % frames.length] ?? "")} ${label} ${dim(secs(performance.now() - start))}\x1b[K`,
      );
    }, 100);
  } else {
    process.stdout.write(`… ${label}\n`);
  }
  try {
    const v = await fn();
    if (timer) clearInterval(timer);
    const extra = detail ? ` ${dim(detail(v))}` : "";
    process.stdout.write(
      `${tty ? "\r" : ""}${green("✓")} ${label}${extra} ${dim(`(${secs(performance.now() - start)})`)}${tty ? "\x1b[K" : ""}\n`,
    );
    return v;
  } catch (err) {
    if (timer) clearInterval(timer);
    process.stdout.write(
      `${tty ? "\r" : ""}${red("✗")} ${label} ${dim(`(${secs(performance.now() - start)})`)}${tty ? "\x1b[K" : ""}\n`,
    );
    throw err;
  }
}

function spawnChild(name: string, command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }) {
  const proc = start(command, args, {
    name,
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env ?? process.env,
    logFile: path.join(LOG_DIR, `${name}.log`),
    ...(verbose ? { onLine: (line: string) => console.log(`${dim(`[${name}]`)} ${line}`) } : {}),
  });
  children.push(proc);
  void proc.exited.then(({ code, signal }) => {
    if (shuttingDown) return;
    console.error(`\n${red(`${name} exited`)} (code ${code}, signal ${signal}); last output:\n${proc.output(20)}`);
    console.error(dim(`full log: ${path.relative(process.cwd(), path.join(LOG_DIR, `${name}.log`))}`));
    void shutdown(1);
  });
  return proc;
}

/** Set when this run started the private dockerd (tools/docker/dockerd.sh), so Ctrl-C stops it again. */
let startedDockerd = false;
const DOCKERD_SH = path.join(REPO_ROOT, "tools", "docker", "dockerd.sh");

function stopDockerd(): void {
  if (!startedDockerd) return;
  startedDockerd = false;
  const t = performance.now();
  spawnSync("bash", [DOCKERD_SH, "stop"], { stdio: "ignore" });
  console.log(`${dim("■")} dockerd stopped ${dim(`(${secs(performance.now() - t)})`)}`);
}

/**
 * Docker for rentals: the private dockerd on its own socket (started here unless it already runs) and the
 * offline session image. Without Debian's docker.io the node runs without rentals.
 */
async function startDocker(): Promise<string | undefined> {
  const hasDockerd = spawnSync("sh", ["-c", "command -v dockerd"], { stdio: "ignore" }).status === 0;
  if (!hasDockerd) return undefined;
  const running = spawnSync("bash", [DOCKERD_SH, "status"], { stdio: "ignore" }).status === 0;
  const { stdout: out } = await promisify(execFile)("bash", [DOCKERD_SH, "start"], { encoding: "utf8" });
  startedDockerd = !running;
  const dockerHost = /DOCKER_HOST=(\S+)/.exec(out)?.[1];
  if (dockerHost === undefined) throw new Error(`dockerd.sh start printed no DOCKER_HOST: ${out}`);
  await promisify(execFile)("bash", [path.join(REPO_ROOT, "tools", "docker", "build-base-image.sh")], {
    env: { ...process.env, DOCKER_HOST: dockerHost },
    maxBuffer: 64 * 1024 * 1024,
  });
  return dockerHost;
}

async function shutdown(code: number): Promise<never> {
  if (shuttingDown) {
    // tsx re-sends the signal it relays when it missed our acknowledgement, and a terminal Ctrl-C reaches
    // npm, sh and tsx too: repeats within a moment are the same Ctrl-C. A later one means "now": kill at once.
    if (performance.now() - shutdownAt < 2_000) return new Promise<never>(() => {});
    for (const c of children) c.signal("SIGKILL");
    process.exit(code || 130);
  }
  shuttingDown = true;
  shutdownAt = performance.now();
  if (children.length > 0) console.log(dim("\nstopping…"));
  // Reverse start order: node and relayer first, the chain last.
  for (const c of [...children].reverse()) {
    const t = performance.now();
    await c.stop(8_000);
    console.log(`${dim("■")} ${c.name} stopped ${dim(`(${secs(performance.now() - t)})`)}`);
  }
  stopDockerd();
  const left = children.filter((c) => c.pid !== undefined && groupAlive(c.pid));
  if (left.length > 0) console.error(red(`still running: ${left.map((c) => `${c.name} (pgid ${c.pid})`).join(", ")}`));
  process.exit(code);
}

// Last resort if the process exits some other way: never leave a group behind.
process.on("exit", () => {
  for (const c of children) if (c.pid !== undefined && groupAlive(c.pid)) c.signal("SIGKILL");
});

/** Registry enum names from what node/src/hardware detects. */
function teeTypeOf(hw: HardwareInfo): TeeType {
  const types = hw.tee.types;
  if (types.includes("tdx")) return "IntelTDX";
  if (types.includes("sev-snp") || types.includes("sev")) return "AmdSevSnp";
  if (types.includes("nvidia-cc")) return "NvidiaCC";
  if (types.includes("sgx")) return "IntelSGX";
  return "None";
}

async function registerLocalProvider(d: Deployments, hw: HardwareInfo) {
  const account = privateKeyToAccount(PROVIDER_KEY);
  const walletClient = createWalletClient({ account, chain: foundry, transport: http(RPC_URL) });
  const gpus = hw.gpus;
  const gpuCount = gpus.length;
  const usdcPerHour = BigInt(process.env.DEV_USDC_PRICE_PER_HOUR ?? (gpuCount > 0 ? 500_000 : 100_000));
  const teeType = teeTypeOf(hw);
  const attestation =
    teeType === "None" ? "" : JSON.stringify({ tee: teeType, devices: hw.tee.devices, note: "local dev: no quote" });
  const hardware = {
    gpuModel: gpus[0]?.name ?? "",
    gpuCount,
    vramGb: Math.round((gpus[0]?.memory_total_mib ?? 0) / 1024),
    cpuCores: hw.cpu.cores,
    memoryGb: Math.floor(hw.memory.total_bytes / 2 ** 30),
    storageGb: Math.floor((hw.disk?.total_bytes ?? 0) / 1e9),
    teeType,
  };
  const maxConcurrentRentals = Number(process.env.MAX_RENTALS ?? 4);
  await registerProvider({
    walletClient,
    registry: d.ComputeRegistry,
    endpoint: NODE_URL,
    attestation,
    pricePerHour: parseEther("0.0001"),
    stake: parseEther("0.1"),
    hardware,
    models: [
      // The embedded model is paid per token in USDC (1 and 2 micro-USDC per prompt / completion token).
      { name: "compute-tiny", inputPricePerToken: 1n, outputPricePerToken: 2n },
      { name: "mock-model", inputPricePerToken: 0n, outputPricePerToken: 0n },
    ],
    tokenPrices: [{ token: d.USDC, pricePerHour: usdcPerHour }],
    maxConcurrentRentals,
  });
  return { address: account.address, hardware, usdcPerHour, maxConcurrentRentals };
}

async function fundRenter(d: Deployments): Promise<Address> {
  const deployer = privateKeyToAccount(DEPLOYER_KEY);
  const renter = privateKeyToAccount(RENTER_KEY);
  const wallet = createWalletClient({ account: deployer, chain: foundry, transport: http(RPC_URL) });
  const pub = createPublicClient({ chain: foundry, transport: http(RPC_URL) });
  const hashes: Hex[] = [
    await wallet.sendTransaction({ to: renter.address, value: RENTER_ETH }),
    await wallet.writeContract({
      address: d.USDC,
      abi: localUsdcAbi,
      functionName: "mint",
      args: [renter.address, RENTER_USDC],
    }),
  ];
  for (const hash of hashes) {
    const r = await pub.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`funding the dev renter failed (tx ${hash})`);
  }
  return renter.address;
}

async function main(): Promise<void> {
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  console.log(bold("Compute localnet"));

  await step("ports 8545, 42069, 4007, 4010, 2222 are free", async () => {
    const taken: string[] = [];
    for (const [name, port] of Object.entries(PORTS)) if (await isPortTaken(port)) taken.push(`${port} (${name})`);
    if (taken.length > 0) {
      throw new Error(
        `port${taken.length > 1 ? "s" : ""} already in use: ${taken.join(", ")}. Stop what listens there ` +
          `(\`ss -ltnp | grep -E '${taken.map((t) => t.split(" ")[0]).join("|")}'\`) or a previous \`npm run dev\`, then retry.`,
      );
    }
  });

  const anvilBin = foundryBin.anvil; // throws naming the missing platform package
  rmSync(DATA_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });

  await step(`anvil on ${RPC_URL} (chain 31337)`, async () => {
    const proc = spawnChild(
      "anvil",
      anvilBin,
      ["--host", HOST, "--port", String(PORTS.anvil), "--chain-id", "31337"],
      {},
    );
    await waitFor(
      "anvil",
      async () => {
        const res = await fetch(RPC_URL, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
        });
        return res.ok;
      },
      { timeoutMs: 20_000, proc },
    );
  });

  const d = await step(
    "deploy ComputeRegistry, ComputeRental, LocalUSDC (forge script)",
    () => deployContracts({ rpcUrl: RPC_URL, deploymentsFile: DEPLOYMENTS_FILE, privateKey: DEPLOYER_KEY }),
    (v) => `registry ${v.ComputeRegistry}`,
  );

  await step("mint 1,000,000 USDC to anvil accounts #0-#9 (forge script Seed)", () =>
    run(
      foundryBin.forge,
      ["script", "script/Seed.s.sol", "--rpc-url", RPC_URL, "--broadcast", "--non-interactive", "-q"],
      {
        env: { ...process.env, PRIVATE_KEY: DEPLOYER_KEY, DEPLOYMENTS_FILE },
      },
    ),
  );

  const renter = await step(
    "fund the dev renter (10,000 USDC, 0.001 ETH dust)",
    () => fundRenter(d),
    (a) => a,
  );

  const hw = await step(
    "detect hardware",
    () => detectHardware({ diskPath: REPO_ROOT }),
    (h) =>
      `${h.gpus.length} GPU${h.gpus.length === 1 ? "" : "s"}, ${h.cpu.cores} cores, ${(h.memory.total_bytes / 2 ** 30).toFixed(0)} GB RAM`,
  );
  const provider = await step("register this machine as a provider (anvil key #1, stake 0.1 ETH)", () =>
    registerLocalProvider(d, hw),
  );

  await step(`indexer on ${INDEXER_URL} (fresh state)`, async () => {
    // A fresh chain needs a fresh indexer: stale PGlite data and sync cache would mix in old logs.
    const ponderDir = path.join(INDEXER_DIR, ".ponder");
    rmSync(ponderDir, { recursive: true, force: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PONDER_TELEMETRY_DISABLED: "1",
      DEPLOYMENTS_FILE,
      RPC_URL,
      PORT: String(PORTS.indexer),
      INDEXER_SQL: "1", // loopback only here; off by default elsewhere
      PONDER_PGLITE_DIR: path.join(ponderDir, "pglite"),
    };
    delete env.DATABASE_URL;
    delete env.DATABASE_PRIVATE_URL;
    delete env.PONDER_RPC_URL_31337;
    const proc = spawnChild(
      "indexer",
      process.execPath,
      [PONDER_BIN, "--log-format", "pretty", "start", "--schema", "compute", "--hostname", HOST],
      { cwd: INDEXER_DIR, env },
    );
    await waitForHttp(`${INDEXER_URL}/ready`, { timeoutMs: 120_000, proc });
    await waitFor(
      "the provider in the indexer",
      async () => (await fetch(`${INDEXER_URL}/providers/${provider.address}`)).ok,
      { timeoutMs: 30_000, proc },
    );
  });

  const hasRelayer = existsSync(path.join(REPO_ROOT, "relayer", "src", "index.ts"));
  if (hasRelayer) {
    await step(`relayer on ${RELAYER_URL}`, async () => {
      const proc = spawnChild("relayer", process.execPath, [TSX_CLI, "relayer/src/index.ts"], {
        env: {
          ...process.env,
          RELAYER_PORT: String(PORTS.relayer),
          RELAYER_HOST: HOST,
          RPC_URL,
          DEPLOYMENTS_FILE,
          INDEXER_URL,
          RELAYER_DB: path.join(DATA_DIR, "relayer.sqlite"),
          SSH_RELAY_PORT: String(PORTS.sshRelay),
        },
      });
      await waitForHttp(`${RELAYER_URL}/health`, { timeoutMs: 60_000, proc });
    });
  }

  const dockerHost = await step("docker for rentals (private dockerd, session image)", startDocker);
  if (dockerHost === undefined) {
    console.log(dim("  dockerd not installed (Debian docker.io): the node runs without rentals"));
  }

  await step(`node on ${NODE_URL} (embedded model; SSH on ${PORTS.ssh})`, async () => {
    const proc = spawnChild("node", process.execPath, [TSX_CLI, "node/src/index.ts"], {
      env: {
        ...process.env,
        COMPUTE_PORT: String(PORTS.node),
        COMPUTE_HOST: HOST,
        SSH_PORT: String(PORTS.ssh),
        RPC_URL,
        PRIVATE_KEY: PROVIDER_KEY,
        INDEXER_URL,
        DEPLOYMENTS_FILE,
        DATA_DIR: path.join(DATA_DIR, "node"),
        ...(dockerHost !== undefined ? { DOCKER_HOST: dockerHost } : { DOCKER_ENABLED: "false" }),
        ...(hasRelayer ? { RELAYER_URL, SSH_RELAY_KEYS: path.join(DATA_DIR, "ssh_relay_client_ed25519_key.pub") } : {}),
      },
    });
    await waitForHttp(`${NODE_URL}/health`, { timeoutMs: 300_000, proc });
  });

  const rel = (p: string) => path.relative(process.cwd(), p) || p;
  const usdc = (v: bigint) => `${formatUnits(v, 6)} USDC`;
  const line = (k: string, v: string) => console.log(`  ${k.padEnd(12)} ${v}`);
  console.log(`\n${green(bold("Compute localnet is up"))} ${dim(`(${secs(performance.now() - t0)})`)}\n`);
  line("Node", `${NODE_URL}  ${dim("/v1/chat/completions /v1/models /v1/providers /v1/hardware /a2a /mcp /health")}`);
  line("Indexer", `${INDEXER_URL}  ${dim("GraphQL /graphql, SQL /sql, REST /providers /sessions /stats")}`);
  if (hasRelayer)
    line(
      "Relayer",
      `${RELAYER_URL}  ${dim("gateway /v1 (any provider), /a2a /mcp, x402 facilitator, gasless sessions")}`,
    );
  if (hasRelayer) line("Nodes UI", `${RELAYER_URL}/nodes  ${dim("providers, and registration with a browser wallet")}`);
  line("Chain", `${RPC_URL}  ${dim("anvil, chain id 31337")}`);
  line("SSH", `ssh -p ${PORTS.ssh} <session-user>@${HOST}`);
  if (hasRelayer)
    line(
      "SSH relay",
      `ssh -p ${PORTS.sshRelay} <session-user>@${HOST}  ${dim("(the gateway's relay: any provider's session)")}`,
    );
  console.log();
  line("Deployments", rel(DEPLOYMENTS_FILE));
  line("  Registry", d.ComputeRegistry);
  line("  Rental", d.ComputeRental);
  line("  USDC", `${d.USDC} ${dim("(LocalUSDC, 6 decimals)")}`);
  console.log();
  console.log(`  ${bold("Test keys")} ${dim("(public, local only; never use them on a real chain)")}`);
  line("provider", `${provider.address}  key ${PROVIDER_KEY}`);
  console.log(
    dim(
      `               anvil #1: stake 0.1 ETH, ${provider.hardware.gpuCount} GPU(s), ${provider.hardware.cpuCores} cores, ` +
        `${usdc(provider.usdcPerHour)}/h, models compute-tiny (1/2 µUSDC per token), mock-model (free)`,
    ),
  );
  line("renter", `${renter}  key ${RENTER_KEY}`);
  console.log(
    dim(
      `               ${usdc(RENTER_USDC)} and ${formatEther(RENTER_ETH)} ETH (dust): pays via x402 / gasless sessions`,
    ),
  );
  line("deployer", `${privateKeyToAccount(DEPLOYER_KEY).address}  key ${DEPLOYER_KEY}`);
  console.log(
    dim("               anvil #0: admin, treasury, USDC minter; anvil #2-#9 hold 10,000 ETH and 1,000,000 USDC each"),
  );
  console.log();
  console.log(`  ${bold("Try")}`);
  console.log(`  curl ${NODE_URL}/v1/providers`);
  console.log(
    `  curl ${NODE_URL}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}'`,
  );
  console.log(`  export COMPUTE_REGISTRY=${d.ComputeRegistry} RPC_URL=${RPC_URL}`);
  console.log(`  npm run validate            ${dim("# checks the node like its users do")}`);
  console.log();
  console.log(dim(`  logs in ${rel(LOG_DIR)}/ (DEV_VERBOSE=1 to stream them). Ctrl-C stops everything.`));
}

main().catch(async (err: unknown) => {
  console.error(`\n${red("npm run dev failed:")} ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
});
