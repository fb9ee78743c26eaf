/**
 * The SDK and CLI end to end, as a renter uses them: a real anvil with the deployed contracts, the relayer, a real
 * dockerd (private socket), the node from node/src/index.ts as a child process, and the real OpenSSH client.
 * `ComputeClient.createSession` (ETH; USDC with approve; gasless with 0 ETH) → active with ssh info → `ssh … true`
 * in the container → `endSession` → the refund equals the contract's formula to the wei. Typed errors from the
 * contracts' custom errors. The `compute` CLI (sdk/bin/compute.mjs): rent → ssh → status → end.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { computeRegistryAbi, computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { registerProvider } from "@jeju/compute-sdk/actions/registerProvider";
import type { Deployments } from "@jeju/compute-sdk/deployments";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  erc20Abi,
  formatEther,
  http,
  type PublicClient,
  parseEther,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDocker, skipWithoutDocker } from "../../node/src/rentals/test-setup.ts";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ComputeClient, ComputeContractError, type CreateSessionStage } from "../../sdk/src/index.ts";
import { type Indexer, startIndexer } from "../../tools/lib/indexer.ts";
import { freePort, freePorts } from "../../tools/lib/ports.ts";
import { type ManagedProcess, start, waitFor, waitForHttp } from "../../tools/lib/process.ts";
import { type Chain, fundedPayer, type RunningRelayer, startChain, startRelayer } from "./x402-harness.ts";

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const TSX_CLI = path.join(REPO, "node_modules", "tsx", "dist", "cli.mjs");
const COMPUTE_BIN = path.join(REPO, "sdk", "bin", "compute.mjs");
const RATE = parseEther("0.01"); // wei per GPU-hour
const USDC_RATE = 2_000_000n; // 2 USDC per GPU-hour
const skip = skipWithoutDocker();

const providerAccount = privateKeyToAccount(anvilAccounts[1].privateKey);
const renterAccount = privateKeyToAccount(anvilAccounts[4].privateKey);
const cliRenterKey = anvilAccounts[5].privateKey;

let chainH: Chain;
let relayer: RunningRelayer;
let deployments: Deployments;
let indexer: Indexer | undefined;
let dir: string;
let node: ManagedProcess | undefined;
let nodeUrl: string;
let sshPort: number;
let dockerHost: string;
let key: string;
let pub: string;
let publicClient: PublicClient;
let anvilChain: ReturnType<typeof defineChain>;

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 60_000) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(cmd, args, { env, timeout, cwd: REPO }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

const SSH_OPTS = [
  "StrictHostKeyChecking=no",
  "UserKnownHostsFile=/dev/null",
  "BatchMode=yes",
  "IdentitiesOnly=yes",
  "LogLevel=ERROR",
  "ConnectTimeout=5",
];

const ssh = (s: { host: string; port: number; username: string }, command: string) =>
  sh("ssh", [
    "-p",
    String(s.port),
    "-i",
    key,
    ...SSH_OPTS.flatMap((o) => ["-o", o]),
    `${s.username}@${s.host}`,
    command,
  ]);

const onchainSession = (id: string) =>
  publicClient.readContract({
    address: deployments.ComputeRental,
    abi: computeRentalAbi,
    functionName: "getSession",
    args: [BigInt(id)],
  });

/** The contract's refund formula: prepaid − rate × max(gpus, 1) × seconds used / 3600. */
async function expectedRefund(id: string): Promise<bigint> {
  const s = await onchainSession(id);
  const units = BigInt(s.gpuCount) > 0n ? BigInt(s.gpuCount) : 1n;
  const used = s.startedAt === 0n ? 0n : s.endedAt - s.startedAt;
  return s.prepaid - (s.ratePerHour * units * used) / 3600n;
}

const usdcBalance = (of: `0x${string}`) =>
  publicClient.readContract({ address: deployments.USDC, abi: erc20Abi, functionName: "balanceOf", args: [of] });

describe.skipIf(skip)("sdk e2e", () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-sdk-e2e-"));
    const [dh, ports] = await Promise.all([ensureDocker(), freePorts(2)]);
    dockerHost = dh;
    nodeUrl = `http://127.0.0.1:${ports[0]}`;
    sshPort = ports[1] as number;
    chainH = await startChain();
    deployments = chainH.deployments;
    fs.copyFileSync(path.join(chainH.tmp, "deployments.json"), path.join(dir, "deployments.json"));
    // The indexer behind the relayer's marketplace reads (the gateway as an SDK/CLI endpoint).
    indexer = await startIndexer({
      rpcUrl: chainH.anvil.rpcUrl,
      deploymentsFile: path.join(dir, "deployments.json"),
      port: await freePort(),
      logFile: path.join(dir, "indexer.log"),
    });
    relayer = await startRelayer(chainH, { indexerUrl: indexer.url });
    anvilChain = defineChain({
      id: 31337,
      name: "anvil",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [chainH.anvil.rpcUrl] } },
    });
    publicClient = createPublicClient({
      chain: anvilChain,
      transport: http(chainH.anvil.rpcUrl),
      pollingInterval: 50,
    }) as PublicClient;
    await registerProvider({
      walletClient: createWalletClient({
        chain: anvilChain,
        transport: http(chainH.anvil.rpcUrl),
        account: providerAccount,
      }),
      registry: deployments.ComputeRegistry,
      endpoint: nodeUrl,
      pricePerHour: RATE,
      stake: parseEther("0.1"),
      tokenPrices: [{ token: deployments.USDC, pricePerHour: USDC_RATE }],
    });
    await chainH.mint(renterAccount.address, 100_000_000n);
    key = path.join(dir, "renter");
    const r = await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sdk-renter", "-f", key]);
    if (r.code !== 0) throw new Error(r.stderr);
    pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    node = start(process.execPath, [TSX_CLI, "node/src/index.ts"], {
      name: "node",
      cwd: REPO,
      logFile: path.join(dir, "node.log"),
      env: {
        ...process.env,
        RPC_URL: chainH.anvil.rpcUrl,
        PRIVATE_KEY: anvilAccounts[1].privateKey,
        DEPLOYMENTS_FILE: path.join(dir, "deployments.json"),
        COMPUTE_PORT: String(new URL(nodeUrl).port),
        COMPUTE_HOST: "127.0.0.1",
        SSH_PORT: String(sshPort),
        SSH_HOST: "127.0.0.1",
        MODEL_BACKEND: "mock",
        DATA_DIR: path.join(dir, "data"),
        RELAYER_URL: relayer.url,
        HEARTBEAT_INTERVAL_MS: "0",
        DOCKER_ENABLED: "true",
        DOCKER_HOST: dockerHost,
        RENTAL_POLL_MS: "100",
        RENTAL_INSTANCE: "e2e-sdk", // rentals.test.ts runs the same provider key on the same dockerd
        LOG_LEVEL: "info",
        INDEXER_URL: "",
      },
    });
    await waitForHttp(`${nodeUrl}/health`, { timeoutMs: 60_000, proc: node });
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    if (dockerHost) {
      const r = await sh("docker", ["ps", "-aq", "--filter", `label=compute.instance=e2e-sdk`], {
        ...process.env,
        DOCKER_HOST: dockerHost,
      });
      const ids = r.stdout.split("\n").filter((l) => l !== "");
      if (ids.length > 0) await sh("docker", ["rm", "-f", ...ids], { ...process.env, DOCKER_HOST: dockerHost });
    }
    await relayer?.close();
    await indexer?.stop();
    await chainH?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Registers anvil account `index` as a provider with no node behind it (it never starts or heartbeats). */
  const registerNodeless = async (index: number, stake: bigint) => {
    const account = privateKeyToAccount((anvilAccounts[index] as { privateKey: `0x${string}` }).privateKey);
    await registerProvider({
      walletClient: createWalletClient({ chain: anvilChain, transport: http(chainH.anvil.rpcUrl), account }),
      registry: deployments.ComputeRegistry,
      endpoint: `http://127.0.0.1:9/${account.address}`,
      pricePerHour: RATE,
      stake,
    });
    return account;
  };

  /** The compute CLI as a renter (`key`, default the CLI renter's) against `endpoint` (default the node). */
  const cliAs =
    ({ key: renterKey = cliRenterKey, endpoint = nodeUrl }: { key?: string; endpoint?: string } = {}) =>
    (...args: string[]) =>
      sh(process.execPath, [COMPUTE_BIN, ...args], {
        ...process.env,
        PRIVATE_KEY: renterKey,
        COMPUTE_ENDPOINT: endpoint,
        RPC_URL: chainH.anvil.rpcUrl,
      });

  const client = () =>
    new ComputeClient({
      endpoint: nodeUrl,
      wallet: createWalletClient({ chain: anvilChain, transport: http(chainH.anvil.rpcUrl), account: renterAccount }),
    });

  it("agents get the same rental quote over MCP and A2A as over HTTP, to the wei, from the node and from the marketplace gateway", async () => {
    const args = {
      providerId: `provider-${providerAccount.address}`,
      durationHours: 2,
      sshPublicKey: pub,
      gpuCount: 0,
    };
    const res = await fetch(`${nodeUrl}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args),
    });
    expect(res.status).toBe(402);
    const quote = (await res.json()) as { error: { message: string }; payment: { cost: string; ratePerHour: string } };
    expect(quote.payment).toMatchObject({ cost: String(RATE * 2n), ratePerHour: String(RATE) });

    const mcp = new McpClient({ name: "sdk-e2e", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${nodeUrl}/mcp`)));
    try {
      const { tools } = await mcp.listTools();
      expect(tools.map((t) => t.name)).toContain("rent_compute");
      const r = (await mcp.callTool({ name: "rent_compute", arguments: args })) as CallToolResult;
      expect(r.isError).toBe(true);
      expect(r.content).toEqual([{ type: "text", text: `HTTP 402: ${quote.error.message}\n${JSON.stringify(quote)}` }]);
    } finally {
      await mcp.close();
    }

    const a2a = await fetch(`${nodeUrl}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "task", task: { skill: "rent_compute", parameters: args } }),
    });
    expect(a2a.status).toBe(402);
    const task = (await a2a.json()) as { task: { status: string; error: { code: string; data: unknown } } };
    expect(task.task.status).toBe("failed");
    expect(task.task.error.code).toBe("payment_required");
    expect(task.task.error.data).toEqual(quote);

    // The gateway (relayer) asks the session's provider for the quote: the same to the wei, over HTTP and agents.
    const viaGateway = await fetch(`${relayer.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args),
    });
    expect(viaGateway.status).toBe(402);
    expect(viaGateway.headers.get("x-compute-provider")).toBe(`provider-${providerAccount.address}`);
    expect(await viaGateway.json()).toEqual(quote);
    const gatewayTask = await fetch(`${relayer.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "task", task: { skill: "rent_compute", parameters: args } }),
    });
    expect(gatewayTask.status).toBe(402);
    expect(((await gatewayTask.json()) as { task: { error: { data: unknown } } }).task.error.data).toEqual(quote);
    const card = (await (await fetch(`${relayer.url}/.well-known/agent-card.json`)).json()) as {
      name: string;
      skills: { id: string }[];
    };
    expect(card.name).toBe("Compute marketplace gateway");
    expect(card.skills.map((s) => s.id)).toEqual(["inference", "embed", "rent_compute", "list_providers"]);
    const gatewayMcp = new McpClient({ name: "sdk-e2e", version: "1.0.0" });
    await gatewayMcp.connect(new StreamableHTTPClientTransport(new URL(`${relayer.url}/mcp`)));
    try {
      const names = (await gatewayMcp.listTools()).tools.map((t) => t.name);
      expect(names).toContain("rent_compute");
      expect(names, "a gateway has no machine of its own").not.toContain("hardware");
      const r = (await gatewayMcp.callTool({ name: "rent_compute", arguments: args })) as CallToolResult;
      expect(r.content).toEqual([{ type: "text", text: `HTTP 402: ${quote.error.message}\n${JSON.stringify(quote)}` }]);
      // Discovery through the gateway's indexer-backed /v1/providers.
      await waitFor(
        "the indexer lists the provider",
        async () => {
          const list = (await gatewayMcp.callTool({ name: "list_providers", arguments: {} })) as CallToolResult;
          return JSON.stringify(list.content).includes(providerAccount.address);
        },
        { timeoutMs: 30_000 },
      );
    } finally {
      await gatewayMcp.close();
    }
  });

  it("discovers the chain and contracts from /v1/network", async () => {
    const net = await client().network();
    expect(net).toMatchObject({
      chainId: 31337,
      contracts: {
        ComputeRegistry: deployments.ComputeRegistry,
        ComputeRental: deployments.ComputeRental,
        USDC: deployments.USDC,
      },
    });
  });

  it("createSession (ETH) → active with ssh info → ssh into the container → endSession refunds to the wei", async () => {
    const compute = client();
    const stages: CreateSessionStage[] = [];
    const session = await compute.createSession({
      providerId: `provider-${providerAccount.address}`,
      durationHours: 2,
      sshPublicKey: pub,
      gpuCount: 0,
      onProgress: (stage) => stages.push(stage),
    });
    expect(stages).toEqual(["quoting", "submitting", "confirmed", "provisioning", "active"]);
    expect(session).toMatchObject({
      status: "active",
      provider: providerAccount.address,
      renter: renterAccount.address,
      token: zeroAddress,
      prepaid: RATE * 2n,
      ratePerHour: RATE,
      gasless: false,
      ssh: { host: "127.0.0.1", port: sshPort, username: `s${session.id}` },
    });
    expect(session.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(session.expiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000));

    const r = await ssh(session.ssh, "true");
    expect(r.code, r.stderr).toBe(0);
    expect((await compute.getSession(session.id)).status).toBe("active");

    await publicClient.request({ method: "evm_increaseTime" as never, params: [1234] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    const creditBefore = await compute.credits();
    const refund = await compute.endSession(session.id);
    expect(refund).toBe(await expectedRefund(session.id));
    expect(refund).toBeGreaterThan(0n);
    expect(refund).toBeLessThan(RATE * 2n);
    expect((await compute.credits()) - creditBefore).toBe(refund);
    const walletBefore = await publicClient.getBalance({ address: renterAccount.address });
    expect(await compute.withdraw()).toBe(refund + creditBefore);
    expect(await publicClient.getBalance({ address: renterAccount.address })).toBeGreaterThan(walletBefore);
  });

  it("createSession in USDC approves the exact cost first; the refund is credited in USDC", async () => {
    const compute = client();
    const stages: CreateSessionStage[] = [];
    const before = await usdcBalance(renterAccount.address);
    const session = await compute.createSession({
      providerId: providerAccount.address,
      durationHours: 3,
      sshPublicKey: pub,
      gpuCount: 0,
      paymentToken: deployments.USDC,
      onProgress: (stage) => stages.push(stage),
    });
    expect(stages).toEqual(["quoting", "approving", "submitting", "confirmed", "provisioning", "active"]);
    expect(session).toMatchObject({ token: deployments.USDC, prepaid: USDC_RATE * 3n, gasless: false });
    expect(before - (await usdcBalance(renterAccount.address))).toBe(USDC_RATE * 3n);
    expect(
      await publicClient.readContract({
        address: deployments.USDC,
        abi: erc20Abi,
        functionName: "allowance",
        args: [renterAccount.address, deployments.ComputeRental],
      }),
    ).toBe(0n);
    const refund = await compute.endSession(session.id);
    expect(refund).toBe(await expectedRefund(session.id));
    expect(await compute.credits(deployments.USDC)).toBe(refund);
  });

  it("decodes the contracts' custom errors into ComputeContractError", async () => {
    const compute = client();
    const err = await compute
      .createSession({ providerId: providerAccount.address, durationHours: 1, sshPublicKey: pub, gpuCount: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComputeContractError);
    expect(err).toMatchObject({ errorName: "InsufficientGpus", args: [providerAccount.address, 2n, 0n] });
    const empty = await compute
      .createSession({ providerId: providerAccount.address, durationHours: 1, sshPublicKey: "", gpuCount: 0 })
      .catch((e: unknown) => e);
    expect(empty).toMatchObject({ errorName: "SshKeyEmpty", code: "contract_revert" });
    const stranger = privateKeyToAccount(anvilAccounts[6].privateKey).address;
    const notProvider = await compute
      .createSession({ providerId: stranger, durationHours: 1, sshPublicKey: pub, gpuCount: 0 })
      .catch((e: unknown) => e);
    expect(notProvider).toBeInstanceOf(ComputeContractError);
    expect((notProvider as ComputeContractError).errorName).toBe("ProviderNotActive");
  });

  it("gasless: a renter with USDC and 0 ETH rents and ends; the refund lands in the wallet", async () => {
    const payer = await fundedPayer(chainH, 10_000_000n);
    const compute = new ComputeClient({ endpoint: nodeUrl, wallet: payer, rpcUrl: chainH.anvil.rpcUrl });
    const stages: CreateSessionStage[] = [];
    const session = await compute.createSession({
      providerId: `provider-${providerAccount.address}`,
      durationHours: 2,
      sshPublicKey: pub,
      gpuCount: 0,
      paymentToken: deployments.USDC,
      onProgress: (stage) => stages.push(stage),
    });
    expect(stages).toEqual(["quoting", "signing", "relaying", "confirmed", "provisioning", "active"]);
    expect(session).toMatchObject({
      renter: payer.address,
      token: deployments.USDC,
      prepaid: USDC_RATE * 2n,
      gasless: true,
    });
    expect((await ssh(session.ssh, "true")).code).toBe(0);
    await publicClient.request({ method: "evm_increaseTime" as never, params: [600] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    const before = await usdcBalance(payer.address);
    const ended = await compute.endSessionDetailed(session.id);
    expect(ended).toMatchObject({ gasless: true, refundCredited: false, token: deployments.USDC });
    expect(ended.refund).toBe(await expectedRefund(session.id));
    expect((await usdcBalance(payer.address)) - before).toBe(ended.refund);
    expect(await compute.credits(deployments.USDC)).toBe(0n);
    expect(await publicClient.getBalance({ address: payer.address })).toBe(0n);
  });

  it("the compute CLI: rent → ssh → status → end, with readable errors and exit codes", async () => {
    const env = { ...process.env, PRIVATE_KEY: cliRenterKey, COMPUTE_ENDPOINT: nodeUrl, RPC_URL: chainH.anvil.rpcUrl };
    const help = await sh(process.execPath, [COMPUTE_BIN, "--help"], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("compute rent --provider <id>");

    const rent = await sh(
      process.execPath,
      [
        COMPUTE_BIN,
        "rent",
        "--provider",
        `provider-${providerAccount.address}`,
        "--hours",
        "1",
        "--gpus",
        "0",
        "--key",
        `${key}.pub`,
      ],
      env,
    );
    expect(rent.code, rent.stderr).toBe(0);
    expect(rent.stderr).toContain("→ Quoting the price on-chain…");
    expect(rent.stderr).toContain("✓ Session active");
    const id = /Session (\d+) is active/.exec(rent.stdout)?.[1];
    expect(id, rent.stdout).toBeDefined();
    expect(rent.stdout).toContain(`ssh -p ${sshPort} -i ${key} s${id}@127.0.0.1`);

    // The provider's host key came from the chain: rent prints its fingerprint (the node's own), and
    // `compute ssh` checks it strictly with an empty HOME (no known_hosts of the user's, no prompt possible).
    const fingerprint = /"fingerprint":"(SHA256:[A-Za-z0-9+/]{43})"/.exec(node?.output(200) ?? "")?.[1];
    expect(fingerprint).toBeDefined();
    expect(rent.stdout).toContain(
      `Host key (published on-chain with the session; compute ssh checks it): ${fingerprint}`,
    );
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "compute-home-"));
    const pinnedOpts = SSH_OPTS.filter((o) => !/^(StrictHostKeyChecking|UserKnownHostsFile)/.test(o));
    const inside = await sh(
      process.execPath,
      [COMPUTE_BIN, "ssh", String(id), "-i", key, ...pinnedOpts.flatMap((o) => ["-o", o]), "--", "exit 3"],
      { ...env, HOME: home },
    );
    expect(inside.code, inside.stderr).toBe(3);
    expect(fs.readdirSync(home), "nothing written to the user's ~/.ssh").toEqual([]);
    fs.rmSync(home, { recursive: true, force: true });

    const status = await sh(process.execPath, [COMPUTE_BIN, "status", String(id)], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`Session ${id}: active`);

    const end = await sh(process.execPath, [COMPUTE_BIN, "end", String(id)], env);
    expect(end.code, end.stderr).toBe(0);
    const refund = await expectedRefund(String(id));
    expect(end.stdout).toContain(`Session ${id} ended. Refund: `);
    expect(end.stdout).toContain("compute withdraw --token eth");
    expect(refund).toBeGreaterThan(0n);

    const again = await sh(process.execPath, [COMPUTE_BIN, "end", String(id)], env);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`error: endSession reverted: SessionNotOpen(${id}, 3)`);
    expect(again.stderr).not.toContain("    at ");

    const usage = await sh(process.execPath, [COMPUTE_BIN, "rent", "--hours", "1"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("error: rent: --provider <id> is required.");

    // The default is one GPU; this provider has none: the contract's error, then what to do.
    const noGpu = await sh(
      process.execPath,
      [COMPUTE_BIN, "rent", "--provider", providerAccount.address, "--hours", "1", "--key", `${key}.pub`],
      env,
    );
    expect(noGpu.code).toBe(1);
    expect(noGpu.stderr).toContain(
      `error: createSession reverted: InsufficientGpus(${providerAccount.address}, 1, 0): the provider has 0 GPU(s) free; ask for fewer (--gpus 0 rents CPU only) or pick another provider (compute providers)`,
    );
  });

  it("the marketplace gateway as the endpoint: providers, rent, status, ssh and end all through the relayer", async () => {
    const cli = cliAs({ endpoint: relayer.url });
    await waitFor(
      "the indexer lists the provider",
      async () => (await cli("providers")).stdout.includes(providerAccount.address),
      { timeoutMs: 30_000 },
    );
    const network = (await (await fetch(`${relayer.url}/v1/network`)).json()) as Record<string, unknown>;
    expect(network).toMatchObject({
      chainId: 31337,
      contracts: { ComputeRental: deployments.ComputeRental },
      gateway: true,
      ssh: null,
    });

    const rent = await cli(
      "rent",
      "--provider",
      `provider-${providerAccount.address}`,
      "--hours",
      "1",
      "--gpus",
      "0",
      "--key",
      `${key}.pub`,
    );
    expect(rent.code, rent.stderr).toBe(0);
    const id = /Session (\d+) is active/.exec(rent.stdout)?.[1];
    expect(id, rent.stdout).toBeDefined();
    // The ssh address is the provider's, as it published it on-chain (the gateway adds none of its own).
    expect(rent.stdout).toContain(`ssh -p ${sshPort} -i ${key} s${id}@127.0.0.1`);
    const status = await cli("status", String(id));
    expect(status.stdout).toContain(`Session ${id}: active`);
    const pinnedOpts = SSH_OPTS.filter((o) => !/^(StrictHostKeyChecking|UserKnownHostsFile)/.test(o));
    const inside = await cli("ssh", String(id), "-i", key, ...pinnedOpts.flatMap((o) => ["-o", o]), "--", "exit 4");
    expect(inside.code, inside.stderr).toBe(4);
    const end = await cli("end", String(id));
    expect(end.code, end.stderr).toBe(0);
    expect(end.stdout).toContain(`Session ${id} ended. Refund: `);
    const gone = await cli("status", String(id));
    expect(gone.stdout).toContain(`Session ${id}: ended`);
  });

  it("a provider that never starts the session: the renter cancels after the provision timeout, gets everything back and the provider is slashed", async () => {
    // A registered provider with no node behind it.
    const ghost = await registerNodeless(7, parseEther("0.1"));
    const cli = cliAs();
    const rent = await cli(
      "rent",
      "--provider",
      ghost.address,
      "--hours",
      "1",
      "--gpus",
      "0",
      "--key",
      `${key}.pub`,
      "--timeout",
      "2",
    );
    expect(rent.code).toBe(1);
    const id = /Session (\d+) is not active after 2 s/.exec(rent.stderr)?.[1];
    expect(id, rent.stderr).toBeDefined();

    const early = await cli("cancel", String(id));
    expect(early.code).toBe(1);
    const s = await publicClient.readContract({
      address: deployments.ComputeRental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [BigInt(id as string)],
    });
    const cancellableAt = new Date((Number(s.createdAt) + 3600) * 1000).toISOString();
    expect(early.stderr.trim()).toBe(
      `error: session ${id} can be cancelled from ${cancellableAt}: its provider has until then to start it.`,
    );

    await publicClient.request({ method: "evm_increaseTime" as never, params: [3601] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    const cliRenter = privateKeyToAccount(cliRenterKey).address;
    const stakeBefore = (
      await publicClient.readContract({
        address: deployments.ComputeRegistry,
        abi: computeRegistryAbi,
        functionName: "getProvider",
        args: [ghost.address],
      })
    ).stake;
    const cancel = await cli("cancel", String(id));
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`Session ${id} cancelled: its provider did not start it in time.`);
    expect(cancel.stdout).toContain(
      "Refund: 0.01 ETH (all of it), credited in the rental contract: compute withdraw --token eth",
    );
    expect(cancel.stdout).toContain(
      "The provider's stake was slashed 0.01 ETH, credited to you in the registry: compute withdraw --token eth",
    );
    const stakeAfter = (
      await publicClient.readContract({
        address: deployments.ComputeRegistry,
        abi: computeRegistryAbi,
        functionName: "getProvider",
        args: [ghost.address],
      })
    ).stake;
    expect(stakeBefore - stakeAfter).toBe(parseEther("0.01"));

    const credit = await publicClient.readContract({
      address: deployments.ComputeRental,
      abi: computeRentalAbi,
      functionName: "credits",
      args: [cliRenter, zeroAddress],
    });
    const walletBefore = await publicClient.getBalance({ address: cliRenter });
    const withdraw = await cli("withdraw", "--token", "eth");
    expect(withdraw.code, withdraw.stderr).toBe(0);
    expect(withdraw.stdout).toContain(`Withdrew ${formatEther(credit)} ETH.`);
    expect(withdraw.stdout).toContain("Withdrew 0.01 ETH of slash compensation from the registry.");
    // To the wei: both credits arrived, less the gas of the two withdrawals.
    const [fromRental] = (
      await publicClient.getContractEvents({
        address: deployments.ComputeRental,
        abi: computeRentalAbi,
        eventName: "Withdrawn",
        args: { account: cliRenter },
        fromBlock: 0n,
      })
    ).slice(-1);
    const [fromRegistry] = (
      await publicClient.getContractEvents({
        address: deployments.ComputeRegistry,
        abi: computeRegistryAbi,
        eventName: "Withdrawn",
        args: { account: cliRenter },
        fromBlock: 0n,
      })
    ).slice(-1);
    let gas = 0n;
    for (const ev of [fromRental, fromRegistry]) {
      const r = await publicClient.getTransactionReceipt({ hash: ev?.transactionHash as `0x${string}` });
      gas += r.gasUsed * r.effectiveGasPrice;
    }
    expect((await publicClient.getBalance({ address: cliRenter })) - walletBefore).toBe(
      credit + parseEther("0.01") - gas,
    );
    expect(
      await publicClient.readContract({
        address: deployments.ComputeRegistry,
        abi: computeRegistryAbi,
        functionName: "credits",
        args: [cliRenter],
      }),
    ).toBe(0n);
  });

  it("extendSession pays the session's own rate; the node keeps the session past the old expiry and settles it at the new one", async () => {
    const compute = client();
    const session = await compute.createSession({
      providerId: providerAccount.address,
      durationHours: 1,
      sshPublicKey: pub,
      gpuCount: 0,
    });
    const expiresAt = session.expiresAt ?? 0;
    expect(expiresAt).toBeGreaterThan(0);
    const before = await publicClient.getBalance({ address: renterAccount.address });
    const ext = await compute.extendSession(session.id, 2);
    const receipt = await publicClient.getTransactionReceipt({ hash: ext.txHash });
    expect(ext).toMatchObject({
      id: session.id,
      addedHours: 2,
      paid: RATE * 2n,
      token: zeroAddress,
      durationHours: 3,
      prepaid: RATE * 3n,
      expiresAt: expiresAt + 7200,
    });
    expect(before - (await publicClient.getBalance({ address: renterAccount.address }))).toBe(
      RATE * 2n + receipt.gasUsed * receipt.effectiveGasPrice,
    );
    await waitFor(
      "the node saw the extension",
      async () => (node?.output(200) ?? "").includes(`"sessionId":"${session.id}","addedHours":2`),
      { proc: node },
    );

    // The CLI extends too, with the amounts in words.
    const cli = cliAs({ key: anvilAccounts[4].privateKey });
    const extended = await cli("extend", session.id, "--hours", "1");
    expect(extended.code, extended.stderr).toBe(0);
    expect(extended.stdout).toContain(
      `Session ${session.id} extended by 1 h for 0.01 ETH: 4 h paid in all (0.04 ETH).`,
    );
    expect(extended.stdout).toContain(`Expires ${new Date((expiresAt + 3 * 3600) * 1000).toISOString()}.`);
    const bad = await cli("extend", session.id);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error: extend: --hours N is required.");

    // Past the old expiry (1 h) the session runs on; nothing tried to settle it.
    await publicClient.request({ method: "evm_increaseTime" as never, params: [3600 + 120] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await new Promise((r) => setTimeout(r, 1_500)); // 15 watcher polls
    expect((await compute.getSession(session.id)).status).toBe("active");
    expect((await ssh(session.ssh, "true")).code).toBe(0);
    expect(node?.output(200)).not.toContain(`"sessionId":"${session.id}","err"`);

    // Past the new expiry (4 h) the node settles it: all 4 hours billed, nothing refunded.
    await publicClient.request({ method: "evm_increaseTime" as never, params: [3 * 3600] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await waitFor("expired session settled", async () => (await compute.getSession(session.id)).status === "ended", {
      proc: node,
    });
    const [ended] = await publicClient.getContractEvents({
      address: deployments.ComputeRental,
      abi: computeRentalAbi,
      eventName: "SessionEnded",
      args: { sessionId: BigInt(session.id) },
      fromBlock: 0n,
    });
    expect(ended?.args).toMatchObject({ usedSeconds: 4n * 3600n, refund: 0n, endedBy: providerAccount.address });
  });

  it("anyone reports a provider silent for over 4 hours (compute report-downtime): deactivated, slashed, the reporter paid", async () => {
    const silent = await registerNodeless(8, parseEther("0.2"));
    const cli = cliAs();
    const getProvider = () =>
      publicClient.readContract({
        address: deployments.ComputeRegistry,
        abi: computeRegistryAbi,
        functionName: "getProvider",
        args: [silent.address],
      });
    const p0 = await getProvider();

    const early = await cli("report-downtime", silent.address);
    expect(early.code).toBe(1);
    expect(early.stderr.trim()).toBe(
      `error: provider ${silent.address} heartbeated recently; it can be reported from ${new Date((Number(p0.lastHeartbeat) + 4 * 3600) * 1000).toISOString()} if it stays silent.`,
    );

    await publicClient.request({ method: "evm_increaseTime" as never, params: [4 * 3600 + 60] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    const reporter = privateKeyToAccount(cliRenterKey).address;
    const creditsBefore = await publicClient.readContract({
      address: deployments.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "credits",
      args: [reporter],
    });
    const r = await cli("report-downtime", `provider-${silent.address}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `Provider ${silent.address} reported for over 4 hours without a heartbeat: deactivated, stake slashed 0.01 ETH.`,
    );
    expect(r.stdout).toContain("Your share: 0.001 ETH, credited in the registry: compute withdraw --token eth");
    const p1 = await getProvider();
    expect(p1.active).toBe(false);
    expect(p0.stake - p1.stake).toBe(parseEther("0.01"));
    const creditsAfter = await publicClient.readContract({
      address: deployments.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "credits",
      args: [reporter],
    });
    expect(creditsAfter - creditsBefore).toBe(parseEther("0.001"));
    const again = await cli("report-downtime", silent.address);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`ProviderNotActive(${silent.address})`);
  });
});
