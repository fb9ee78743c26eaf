/**
 * Rentals end to end: a real anvil with the deployed contracts, a real dockerd (private socket) with the
 * locally built session image, the node started from node/src/index.ts as a child process, and the real
 * OpenSSH client. A renter pays on-chain → the node provisions a container and activates the session → ssh
 * lands in the container → the containers API runs a job (renter-signed) → ending early refunds to the wei and
 * tears everything down → a node killed with SIGKILL between SessionCreated and activation comes back and
 * activates each session exactly once.
 */
import { execFile, spawn } from "node:child_process";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { registerProvider } from "@jeju/compute-sdk/actions/registerProvider";
import { signSessionRequest } from "@jeju/compute-sdk/sessions/auth";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import { signEndSession, signGaslessSession } from "@jeju/compute-sdk/x402/index";
import type { Deployments } from "@jeju/compute-sdk/deployments";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  getAbiItem,
  type Hex,
  http as httpTransport,
  type PublicClient,
  parseEther,
  parseEventLogs,
  toEventSelector,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDocker, skipWithoutDocker } from "../../node/src/rentals/test-setup.ts";
import { freePorts } from "../../tools/lib/ports.ts";
import { type ManagedProcess, start, waitFor, waitForHttp } from "../../tools/lib/process.ts";
import { silentLogger } from "../../relayer/src/logger.ts";
import { createSshRelay, relayClientPublicKeyFile, type SshRelay } from "../../relayer/src/ssh/relay.ts";
import { type Chain, fundedPayer, type RunningRelayer, startChain, startRelayer } from "./x402-harness.ts";

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const TSX_CLI = path.join(REPO, "node_modules", "tsx", "dist", "cli.mjs");
const RATE = parseEther("0.01"); // wei per GPU-hour
const USDC_RATE = 2_000_000n; // 2 USDC per GPU-hour
const skip = skipWithoutDocker();

const providerAccount = privateKeyToAccount(anvilAccounts[1].privateKey);
// Other test files run nodes with the same provider key on their own anvil (same session ids) and the same
// dockerd: the instance name keeps each node, and each test's look-ups, to its own containers.
const INSTANCE = "e2e-rentals";
const renterAccount = privateKeyToAccount(anvilAccounts[3].privateKey);

let chainH: Chain;
let relayer: RunningRelayer;
let anvil: Chain["anvil"];
let deployments: Deployments;
let dir: string;
let node: ManagedProcess | undefined;
let nodeUrl: string;
let sshPort: number;
let dockerHost: string;
let key: string;
let strangerKey: string;
let sshRelay: SshRelay;
let publicClient: ReturnType<typeof createPublicClient>;
let renter: ReturnType<typeof createWalletClient>;
const latencies: number[] = [];

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 20_000) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(cmd, args, { env, timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

const ssh = (username: string, identity: string, command: string) =>
  sh("ssh", [
    "-p",
    String(sshPort),
    "-i",
    identity,
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    `${username}@127.0.0.1`,
    command,
  ]);

/** OpenSSH's client through the relayer's SSH relay, with optional stdin. */
function relaySsh(username: string, identity: string, command: string, input = "") {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("ssh", [
      "-p",
      String(sshRelay.port),
      "-i",
      identity,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "ConnectTimeout=5",
      `${username}@127.0.0.1`,
      command,
    ]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const docker = (args: string[]) => sh("docker", args, { ...process.env, DOCKER_HOST: dockerHost });

/** Session containers of `id` (role session) made by this provider, by label. */
async function sessionContainers(id: bigint): Promise<string[]> {
  const r = await docker([
    "ps",
    "-a",
    "--no-trunc",
    "--filter",
    `label=compute.session=${id}`,
    "--filter",
    "label=compute.role=session",
    "--filter",
    `label=compute.provider=${providerAccount.address}`,
    "--filter",
    `label=compute.instance=${INSTANCE}`,
    "--format",
    "{{.ID}}",
  ]);
  if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

async function startNode(rpcUrl = anvil.rpcUrl): Promise<void> {
  node = start(process.execPath, [TSX_CLI, "node/src/index.ts"], {
    name: "node",
    cwd: REPO,
    logFile: path.join(dir, "node.log"),
    env: {
      ...process.env,
      RPC_URL: rpcUrl,
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
      RENTAL_WITHDRAW_INTERVAL_MS: "500",
      RENTAL_INSTANCE: INSTANCE,
      SSH_RELAY_KEYS: relayClientPublicKeyFile(path.join(dir, "relay")),
      LOG_LEVEL: "info",
      INDEXER_URL: "",
    },
  });
  await waitForHttp(`${nodeUrl}/health`, { timeoutMs: 60_000, proc: node });
}

/**
 * A JSON-RPC proxy in front of anvil whose eth_getLogs answers leave out every log with topic0 `drop`, as a
 * replica behind a load balancer that has not seen a block yet would.
 */
async function lossyRpc(target: string, drop: Hex) {
  let dropped = 0;
  const stats = { requests: 0, pending: 0, retried: 0, failed: 0 };
  // Forwards once more when the upstream connection drops (a reused keep-alive socket anvil closed), and answers
  // 502 rather than never: a hung request would stall the node's watcher for its whole RPC timeout.
  const forward = async (body: string) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const upstream = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(5_000),
        });
        return { status: upstream.status, text: await upstream.text() };
      } catch (err) {
        stats.retried++;
        if (attempt >= 2) throw err;
      }
    }
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    stats.requests++;
    stats.pending++;
    let upstream: { status: number; text: string };
    try {
      upstream = await forward(body);
    } catch (err) {
      stats.failed++;
      res.writeHead(502, { "content-type": "text/plain" }).end(String(err));
      return;
    } finally {
      stats.pending--;
    }
    let text = upstream.text;
    const sent = JSON.parse(body) as { method: string } | { method: string }[];
    const methods = (Array.isArray(sent) ? sent : [sent]).map((m) => m.method);
    if (methods.includes("eth_getLogs")) {
      const answer = JSON.parse(text) as { result?: { topics: string[] }[] } | { result?: { topics: string[] }[] }[];
      for (const a of Array.isArray(answer) ? answer : [answer]) {
        if (!Array.isArray(a.result)) continue;
        const kept = a.result.filter((l) => l.topics[0] !== drop);
        dropped += a.result.length - kept.length;
        a.result = kept;
      }
      text = JSON.stringify(answer);
    }
    res.writeHead(upstream.status, { "content-type": "application/json" }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    dropped: () => dropped,
    stats: () => ({ ...stats, dropped }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function createSession(pub: string): Promise<{ id: bigint; minedAt: number; prepaid: bigint }> {
  const hash = await renter.writeContract({
    chain: renter.chain,
    account: renterAccount,
    address: deployments.ComputeRental,
    abi: computeRentalAbi,
    functionName: "createSession",
    args: [providerAccount.address, 1n, pub, 0n, zeroAddress],
    value: RATE,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  const minedAt = performance.now();
  const [ev] = parseEventLogs({ abi: computeRentalAbi, eventName: "SessionCreated", logs: receipt.logs });
  if (!ev) throw new Error("no SessionCreated");
  return { id: ev.args.sessionId, minedAt, prepaid: ev.args.prepaid };
}

/** Polls `ssh … true` until it succeeds; returns ms since `since`. */
async function sshReady(id: bigint, since: number): Promise<number> {
  await waitFor(`ssh into session ${id}`, async () => (await ssh(`s${id}`, key, "true")).code === 0, {
    timeoutMs: 30_000,
    intervalMs: 50,
    proc: node,
  });
  return performance.now() - since;
}

async function endOnChain(id: bigint) {
  const hash = await renter.writeContract({
    chain: renter.chain,
    account: renterAccount,
    address: deployments.ComputeRental,
    abi: computeRentalAbi,
    functionName: "endSession",
    args: [id],
  });
  return publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
}

const getSession = (id: bigint) =>
  publicClient.readContract({
    address: deployments.ComputeRental,
    abi: computeRentalAbi,
    functionName: "getSession",
    args: [id],
  });

async function activationEvents(id: bigint): Promise<number> {
  const logs = await publicClient.getContractEvents({
    address: deployments.ComputeRental,
    abi: computeRentalAbi,
    eventName: "SessionActivated",
    args: { sessionId: id },
    fromBlock: 0n,
  });
  return logs.length;
}

describe.skipIf(skip)("rentals e2e", () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-rentals-e2e-"));
    const [dh, ports] = await Promise.all([ensureDocker(), freePorts(2)]);
    dockerHost = dh;
    nodeUrl = `http://127.0.0.1:${ports[0]}`;
    sshPort = ports[1] as number;
    chainH = await startChain();
    anvil = chainH.anvil;
    deployments = chainH.deployments;
    fs.copyFileSync(path.join(chainH.tmp, "deployments.json"), path.join(dir, "deployments.json"));
    relayer = await startRelayer(chainH);
    const chain = defineChain({
      id: 31337,
      name: "anvil",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [anvil.rpcUrl] } },
    });
    publicClient = createPublicClient({ chain, transport: httpTransport(anvil.rpcUrl), pollingInterval: 50 });
    renter = createWalletClient({ chain, transport: httpTransport(anvil.rpcUrl), account: renterAccount });
    await registerProvider({
      walletClient: createWalletClient({ chain, transport: httpTransport(anvil.rpcUrl), account: providerAccount }),
      registry: deployments.ComputeRegistry,
      endpoint: nodeUrl,
      pricePerHour: RATE,
      stake: parseEther("0.1"),
      tokenPrices: [{ token: deployments.USDC, pricePerHour: USDC_RATE }],
    });
    for (const name of ["renter", "stranger"]) {
      const file = path.join(dir, name);
      const r = await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    key = path.join(dir, "renter");
    strangerKey = path.join(dir, "stranger");
    sshRelay = createSshRelay({
      dataDir: path.join(dir, "relay"),
      publicClient: publicClient as PublicClient,
      rental: deployments.ComputeRental,
      registry: deployments.ComputeRegistry,
      fromBlock: 0n,
      port: 0,
      host: "127.0.0.1",
      log: silentLogger,
    });
    await sshRelay.listen();
    await startNode();
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await sshRelay?.close();
    // Leave none of this node's containers behind on the shared dockerd (and touch no one else's).
    if (dockerHost) {
      const r = await docker(["ps", "-aq", "--filter", `label=compute.instance=${INSTANCE}`]);
      const ids = r.stdout.split("\n").filter((l) => l !== "");
      if (ids.length > 0) await docker(["rm", "-f", ...ids]);
    }
    await relayer?.close();
    await chainH?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (latencies.length > 0) {
      const sorted = [...latencies].sort((a, b) => a - b);
      console.log(
        `rentals latency (session tx mined → ssh true ok): runs ${latencies.map((l) => l.toFixed(0)).join(", ")} ms; p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms`,
      );
    }
  });

  it("GET /v1/network names the contracts, the relayer, the provider and ssh", async () => {
    const res = await fetch(`${nodeUrl}/v1/network`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      chainId: 31337,
      contracts: {
        ComputeRegistry: deployments.ComputeRegistry,
        ComputeRental: deployments.ComputeRental,
        USDC: deployments.USDC,
      },
      startBlock: deployments.startBlock,
      relayer: relayer.url,
      provider: providerAccount.address,
      ssh: { host: "127.0.0.1", port: sshPort },
    });
  });

  it("POST /v1/sessions without payment answers 402 with the exact cost; bad input is a 400 naming the field", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const body = {
      providerId: `provider-${providerAccount.address}`,
      durationHours: 2,
      sshPublicKey: pub,
      gpuCount: 0,
    };
    const res = await fetch(`${nodeUrl}/v1/sessions`, { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(402);
    const j = (await res.json()) as { error: { code: string; type: string }; payment: Record<string, unknown> };
    expect(j.error).toMatchObject({ code: "payment_required", type: "invalid_request_error" });
    expect(j.payment).toMatchObject({
      cost: (RATE * 2n).toString(),
      token: zeroAddress,
      symbol: "ETH",
      decimals: 18,
      ratePerHour: RATE.toString(),
      onchain: {
        to: deployments.ComputeRental,
        function: "createSession(address,uint256,string,uint256,address)",
        args: [providerAccount.address, "2", pub, "0", zeroAddress],
        value: (RATE * 2n).toString(),
      },
    });
    const bad = await fetch(`${nodeUrl}/v1/sessions`, {
      method: "POST",
      body: JSON.stringify({ ...body, sshPublicKey: "ssh-ed25519 nope" }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; param: string } }).error).toMatchObject({
      code: "invalid_ssh_key",
      param: "sshPublicKey",
    });
    const noHours = await fetch(`${nodeUrl}/v1/sessions`, {
      method: "POST",
      body: JSON.stringify({ ...body, durationHours: undefined }),
    });
    expect(noHours.status).toBe(400);
    expect(((await noHours.json()) as { error: { param: string } }).error.param).toBe("durationHours");
    const missing = await fetch(`${nodeUrl}/v1/sessions/999999`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("session_not_found");
  });

  it("pay on-chain → active within seconds → ssh into the container → containers API → end early: refund to the wei, all gone", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const { id, minedAt, prepaid } = await createSession(pub);
    const ms = await sshReady(id, minedAt);
    latencies.push(ms);
    expect(ms).toBeLessThan(10_000);

    const status = (await (await fetch(`${nodeUrl}/v1/sessions/${id}`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      id: id.toString(),
      status: "active",
      renter: renterAccount.address,
      provider: providerAccount.address,
      token: zeroAddress,
      gpuCount: "0",
      durationHours: "1",
      ratePerHour: RATE.toString(),
      prepaid: prepaid.toString(),
      ssh: { host: "127.0.0.1", port: sshPort, username: `s${id}` },
    });
    expect(typeof status.activatedAt).toBe("number");
    expect(typeof status.expiresAt).toBe("number");

    // Inside the container: its hostname is the container's short id; the image's marker file is there.
    const [cid] = await sessionContainers(id);
    expect(cid).toBeDefined();
    const r = await ssh(`s${id}`, key, "hostname; cat /etc/compute-session");
    expect(r.code, r.stderr).toBe(0);
    const [host, marker] = r.stdout.trim().split("\n");
    expect(host).toBe(cid?.slice(0, 12));
    expect(marker).toMatch(/^compute session image/);
    expect((await ssh(`s${id}`, key, "exit 7")).code).toBe(7);
    // A stranger's key, and the right key for a username that is not a session, are refused.
    expect((await ssh(`s${id}`, strangerKey, "true")).code).toBe(255);
    expect((await ssh("s424242", key, "true")).code).toBe(255);

    // Containers API, signed by the renter.
    const base = `/v1/sessions/${id}/containers`;
    const signed = async (method: string, p: string, signer = renterAccount) => ({
      "content-type": "application/json",
      "X-Compute-Signature": await signSessionRequest({ signer, sessionId: id, method, path: p }),
    });
    const unsigned = await fetch(`${nodeUrl}${base}`);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe("signature_required");
    const stranger = privateKeyToAccount(generatePrivateKey());
    const forbidden = await fetch(`${nodeUrl}${base}`, { headers: await signed("GET", base, stranger) });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe("not_session_renter");
    const expired = await fetch(`${nodeUrl}${base}`, {
      headers: {
        "X-Compute-Signature": await signSessionRequest({
          signer: renterAccount,
          sessionId: id,
          method: "GET",
          path: base,
          expires: Math.floor(Date.now() / 1000) - 5,
        }),
      },
    });
    expect(expired.status).toBe(401);
    const run = await fetch(`${nodeUrl}${base}`, {
      method: "POST",
      headers: await signed("POST", base),
      body: JSON.stringify({
        image: "compute/session:latest",
        command: ["/bin/sh", "-c", "echo hello-from-job"],
        gpus: 0,
        volumes: [],
        ports: {},
      }),
    });
    expect(run.status, await run.clone().text()).toBe(201);
    const job = (await run.json()) as { id: string };
    const logsPath = `${base}/${job.id}/logs`;
    const logs = await waitFor("job logs", async () => {
      const res = await fetch(`${nodeUrl}${logsPath}`, { headers: await signed("GET", logsPath) });
      const text = await res.text();
      return res.status === 200 && text.includes("hello-from-job") ? text : undefined;
    });
    expect(logs).toContain("hello-from-job");
    const list = (await (await fetch(`${nodeUrl}${base}`, { headers: await signed("GET", base) })).json()) as {
      data: { id: string }[];
    };
    expect(list.data.map((c) => c.id)).toEqual([job.id]);
    const delPath = `${base}/${job.id}`;
    expect(
      (await fetch(`${nodeUrl}${delPath}`, { method: "DELETE", headers: await signed("DELETE", delPath) })).status,
    ).toBe(200);

    // DELETE without a signature tells the renter what to sign or send.
    const noSig = await fetch(`${nodeUrl}/v1/sessions/${id}`, { method: "DELETE" });
    expect(noSig.status).toBe(400);
    const noSigBody = (await noSig.json()) as {
      error: { code: string };
      onchain: { function: string };
      typedData: { primaryType: string };
    };
    expect(noSigBody.error.code).toBe("signature_required");
    expect(noSigBody.onchain.function).toBe("endSession(uint256)");
    expect(noSigBody.typedData.primaryType).toBe("EndSession");

    // End early on-chain: refund = prepaid − rate × seconds used / 3600, to the wei.
    const receipt = await endOnChain(id);
    const [ended] = parseEventLogs({ abi: computeRentalAbi, eventName: "SessionEnded", logs: receipt.logs });
    const s = await getSession(id);
    const used = s.endedAt - s.startedAt;
    expect(ended?.args.usedSeconds).toBe(used);
    expect(ended?.args.refund).toBe(prepaid - (RATE * used) / 3600n);
    expect(ended?.args.refund).toBe(s.prepaid - (s.ratePerHour * used) / 3600n);

    // The node tears down: container gone, ssh refused.
    await waitFor("session container removed", async () => (await sessionContainers(id)).length === 0, { proc: node });
    expect((await ssh(`s${id}`, key, "true")).code).toBe(255);
    const after = (await (await fetch(`${nodeUrl}/v1/sessions/${id}`)).json()) as Record<string, unknown>;
    expect(after).toMatchObject({ status: "ended", ssh: null, refundableNow: "0" });
  });

  it("gasless through the node: USDC authorization → relayer → active; DELETE with the renter's EndSession signature → refund", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const payer = await fundedPayer(chainH, 10_000_000n);
    const terms = {
      providerId: providerAccount.address,
      durationHours: 1,
      sshPublicKey: pub,
      gpuCount: 0,
      paymentToken: "USDC",
    };
    const quote = await fetch(`${nodeUrl}/v1/sessions`, { method: "POST", body: JSON.stringify(terms) });
    expect(quote.status).toBe(402);
    const q = (await quote.json()) as {
      payment: { cost: string; onchain: { approve: unknown }; gasless: { to: string; value: string } };
    };
    expect(q.payment.cost).toBe(USDC_RATE.toString());
    expect(q.payment.onchain.approve).toEqual({
      token: deployments.USDC,
      spender: deployments.ComputeRental,
      amount: USDC_RATE.toString(),
    });
    expect(q.payment.gasless).toMatchObject({ to: deployments.ComputeRental, value: USDC_RATE.toString() });
    const signed = await signGaslessSession({
      signer: payer,
      token: { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: deployments.USDC },
      rental: deployments.ComputeRental,
      provider: providerAccount.address,
      durationHours: 1n,
      sshPublicKey: pub,
      gpuCount: 0n,
      value: USDC_RATE,
    });
    const created = await fetch(`${nodeUrl}/v1/sessions`, {
      method: "POST",
      body: JSON.stringify({ ...terms, salt: signed.salt, payment: signed.payment }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const c = (await created.json()) as { id: string; renter: string; prepaid: string };
    expect(c).toMatchObject({ renter: payer.address, prepaid: USDC_RATE.toString() });
    const id = BigInt(c.id);
    await waitFor("gasless session active", async () => (await getSession(id)).status === 2, { proc: node });
    expect((await ssh(`s${id}`, key, "true")).code).toBe(0);

    const nonce = await publicClient.readContract({
      address: deployments.ComputeRental,
      abi: computeRentalAbi,
      functionName: "nonces",
      args: [payer.address],
    });
    const end = await signEndSession({
      signer: payer,
      chainId: 31337,
      rental: deployments.ComputeRental,
      sessionId: id,
      nonce,
    });
    const res = await fetch(`${nodeUrl}/v1/sessions/${id}`, { method: "DELETE", body: JSON.stringify(end) });
    expect(res.status, await res.clone().text()).toBe(200);
    const ended = (await res.json()) as { id: string; status: string; refund: string; txHash: string };
    const s = await getSession(id);
    expect(ended).toMatchObject({ id: id.toString(), status: "ended" });
    expect(ended.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(BigInt(ended.refund)).toBe(s.prepaid - (s.ratePerHour * (s.endedAt - s.startedAt)) / 3600n);
    await waitFor("gasless session container removed", async () => (await sessionContainers(id)).length === 0, {
      proc: node,
    });
  });

  it("ssh through the relay: `ssh -p <relay> s<id>@gateway` lands in the session's container; strangers and ended sessions are refused", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const { id } = await createSession(pub);
    await waitFor("session active", async () => (await getSession(id)).status === 2, { proc: node });
    await waitFor("session ssh", async () => (await ssh(`s${id}`, key, "true")).code === 0, { proc: node });

    const direct = await ssh(`s${id}`, key, "hostname");
    const r = await relaySsh(
      `s${id}`,
      key,
      "cat /etc/compute-session; echo id=$COMPUTE_SESSION_ID; hostname; echo oops >&2; exit 7",
    );
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toContain("compute session image");
    expect(r.stdout).toContain(`id=${id}\n${direct.stdout.trim()}\n`);
    expect(r.stderr).toBe("oops\n");
    expect(node?.output(200)).toMatch(new RegExp(`"sessionId":"${id}","relay":"SHA256:`));
    // stdin and EOF pass through.
    const upper = await relaySsh(`s${id}`, key, "tr a-z A-Z", "hello relay\n");
    expect(upper).toMatchObject({ code: 0, stdout: "HELLO RELAY\n" });
    // scp (SFTP) through the relay.
    const local = path.join(dir, "relay-upload.txt");
    fs.writeFileSync(local, "through the relay\n");
    const scp = await sh("scp", [
      "-P",
      String(sshRelay.port),
      "-i",
      key,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "LogLevel=ERROR",
      local,
      `s${id}@127.0.0.1:/tmp/relay-upload.txt`,
    ]);
    expect(scp.code, scp.stderr).toBe(0);
    expect((await ssh(`s${id}`, key, "cat /tmp/relay-upload.txt")).stdout).toBe("through the relay\n");

    // ProxyJump through the relay: the renter's SSH runs end to end to the node (OpenSSH's -W through the relay).
    const jumpOpts = [
      "-i",
      key,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "LogLevel=ERROR",
    ];
    const jump = await sh("ssh", [
      ...jumpOpts,
      "-o",
      `ProxyCommand=ssh ${jumpOpts.join(" ")} -p ${sshRelay.port} -W %h:%p s${id}@127.0.0.1`,
      "-p",
      String(sshPort),
      `s${id}@127.0.0.1`,
      "hostname",
    ]);
    expect(jump.code, jump.stderr).toBe(0);
    expect(jump.stdout).toBe(direct.stdout);

    // Someone else's key, a session that is not theirs, no session: refused by the relay.
    const stranger = await relaySsh(`s${id}`, strangerKey, "true");
    expect(stranger.code).toBe(255);
    expect(stranger.stderr).toContain("Permission denied (publickey)");
    expect((await relaySsh("s999999", key, "true")).code).toBe(255);
    expect((await relaySsh("root", key, "true")).code).toBe(255);

    await endOnChain(id);
    const after = await relaySsh(`s${id}`, key, "true");
    expect(after.code).toBe(255);
    expect(after.stderr).toContain("Permission denied (publickey)");
  });

  it("expiry: the node settles an expired session on-chain, tears it down and withdraws its earnings", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const { id } = await createSession(pub);
    await waitFor("session active", async () => (await getSession(id)).status === 2, { proc: node });
    await waitFor("session ssh", async () => (await ssh(`s${id}`, key, "true")).code === 0, { proc: node });
    await publicClient.request({ method: "evm_increaseTime" as never, params: [3700] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await waitFor("expired session settled", async () => (await getSession(id)).status === 3, { proc: node });
    const [ended] = await publicClient.getContractEvents({
      address: deployments.ComputeRental,
      abi: computeRentalAbi,
      eventName: "SessionEnded",
      args: { sessionId: id },
      fromBlock: 0n,
    });
    expect(ended?.args.endedBy).toBe(providerAccount.address);
    expect(ended?.args.usedSeconds).toBe(3600n);
    expect(ended?.args.refund).toBe(0n);
    await waitFor("expired session container removed", async () => (await sessionContainers(id)).length === 0, {
      proc: node,
    });
    expect((await ssh(`s${id}`, key, "true")).code).toBe(255);
    const credits = () =>
      publicClient.readContract({
        address: deployments.ComputeRental,
        abi: computeRentalAbi,
        functionName: "credits",
        args: [providerAccount.address, zeroAddress],
      });
    await waitFor("earnings withdrawn", async () => (await credits()) === 0n, { proc: node });
    const withdrawn = await publicClient.getContractEvents({
      address: deployments.ComputeRental,
      abi: computeRentalAbi,
      eventName: "Withdrawn",
      args: { account: providerAccount.address },
      fromBlock: 0n,
    });
    expect(withdrawn.length).toBeGreaterThan(0);
  });

  it("latency: session tx mined → `ssh … true` succeeds (3 runs)", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    for (let i = 0; i < 2; i++) {
      const { id, minedAt } = await createSession(pub);
      latencies.push(await sshReady(id, minedAt));
      await endOnChain(id);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] as number;
    console.log(`latency runs: ${latencies.map((l) => l.toFixed(0)).join(", ")} ms; p50 ${p50.toFixed(0)} ms`);
    expect(p50).toBeLessThan(5_000);
  });

  it("kill -9 between SessionCreated and activation, and sessions created while down: each activated exactly once", async () => {
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    // B: kill the node the moment its container exists (before or just after activateSession).
    const b = await createSession(pub);
    await waitFor("session B container", async () => (await sessionContainers(b.id)).length > 0, {
      intervalMs: 10,
      proc: node,
    });
    node?.signal("SIGKILL");
    await node?.exited;
    await node?.stop();
    const killedBeforeActivation = (await getSession(b.id)).status === 1;
    console.log(
      `crash test: node killed ${killedBeforeActivation ? "before" : "after"} activateSession of session ${b.id}`,
    );
    // A: created while the node is down.
    const a = await createSession(pub);
    expect((await getSession(a.id)).status).toBe(1); // Pending

    await startNode();
    for (const s of [a, b]) {
      await waitFor(`session ${s.id} active on-chain`, async () => (await getSession(s.id)).status === 2, {
        proc: node,
      });
      expect((await ssh(`s${s.id}`, key, "true")).code).toBe(0);
      expect(await sessionContainers(s.id)).toHaveLength(1);
      expect(await activationEvents(s.id)).toBe(1);
    }
    for (const s of [a, b]) await endOnChain(s.id);
    await waitFor(
      "crash-test containers removed",
      async () => (await sessionContainers(a.id)).length + (await sessionContainers(b.id)).length === 0,
      { proc: node },
    );
  });

  it("a SessionEnded log the RPC never returns still ends the session: the node re-checks running sessions", async () => {
    const sessionEnded = toEventSelector(getAbiItem({ abi: computeRentalAbi, name: "SessionEnded" }));
    const proxy = await lossyRpc(anvil.rpcUrl, sessionEnded);
    try {
      await node?.stop();
      await startNode(proxy.url);
      const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
      const { id } = await createSession(pub);
      await waitFor("session active", async () => (await getSession(id)).status === 2, { proc: node });
      await waitFor("session ssh", async () => (await ssh(`s${id}`, key, "true")).code === 0, { proc: node });
      await endOnChain(id);
      await waitFor("ended session's container removed", async () => (await sessionContainers(id)).length === 0, {
        proc: node,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n--- lossy RPC proxy: ${JSON.stringify(proxy.stats())}`);
      });
      expect(proxy.dropped(), "the proxy really hid the SessionEnded log").toBeGreaterThan(0);
      expect(node?.output(200)).toContain("session is over on-chain but its event was not seen: tearing down");
      expect((await ssh(`s${id}`, key, "true")).code).toBe(255);
    } finally {
      await node?.stop();
      await proxy.close();
    }
  });
});
