/**
 * The relayer on a real anvil: x402 facilitator endpoints (v2 and v1, idempotent settle, rate limit), the
 * persisted transaction queue across a restart, and gasless sessions created and ended by a renter that
 * holds USDC and no ETH, with the refund checked to the unit against the contract's formula.
 */
import { computeRegistryAbi, computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import {
  buildPaymentRequirements,
  caip2,
  signAuthorization,
  signEndSession,
  signGaslessSession,
  toV1Requirements,
} from "@jeju/compute-sdk/x402/index";
import type { SettleResponse, VerifyResponse } from "@x402/core/types";
import path from "node:path";
import { createWalletClient, defineChain, type Hex, http, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TxQueue } from "../../relayer/src/chain/txQueue.ts";
import { openDb } from "../../relayer/src/db.ts";
import { silentLogger } from "../../relayer/src/logger.ts";
import { type Chain, fundedPayer, RELAYER_KEY, type RunningRelayer, startChain, startRelayer } from "./x402-harness.ts";

let chain: Chain;
let relayer: RunningRelayer;
const provider = privateKeyToAccount(anvilAccounts[1].privateKey);
const RATE = 2_000_000n; // 2 USDC per GPU-hour

beforeAll(async () => {
  chain = await startChain();
  relayer = await startRelayer(chain);
  const anvilChain = defineChain({
    id: 31337,
    name: "anvil",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [chain.anvil.rpcUrl] } },
  });
  const wallet = createWalletClient({ chain: anvilChain, transport: http(chain.anvil.rpcUrl), account: provider });
  const reg = chain.deployments.ComputeRegistry;
  const send = async (p: Promise<Hex>) =>
    chain.publicClient.waitForTransactionReceipt({ hash: await p, pollingInterval: 50 });
  await send(
    wallet.writeContract({
      address: reg,
      abi: computeRegistryAbi,
      functionName: "register",
      args: ["http://127.0.0.1:4007", "", parseEther("0.01")],
      value: parseEther("0.1"),
    }),
  );
  await send(
    wallet.writeContract({
      address: reg,
      abi: computeRegistryAbi,
      functionName: "setHardware",
      args: [
        { gpuModel: "NVIDIA H100", gpuCount: 4, vramGb: 80, cpuCores: 32, memoryGb: 256, storageGb: 2000, teeType: 0 },
      ],
    }),
  );
  await send(
    wallet.writeContract({
      address: reg,
      abi: computeRegistryAbi,
      functionName: "setTokenPrice",
      args: [chain.deployments.USDC, RATE],
    }),
  );
});

afterAll(async () => {
  await relayer?.close();
  await chain?.stop();
});

const post = (url: string, body: unknown, method = "POST") =>
  fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function payment(amount: bigint, payTo: `0x${string}`) {
  const payer = await fundedPayer(chain, 10_000_000n);
  const requirements = buildPaymentRequirements({
    chainId: 31337,
    asset: chain.deployments.USDC,
    payTo,
    amount,
    tokenName: "USD Coin",
    tokenVersion: "2",
  });
  const exact = await signAuthorization({
    signer: payer,
    token: { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: chain.deployments.USDC },
    to: payTo,
    value: amount,
  });
  const v2 = {
    x402Version: 2,
    paymentPayload: { x402Version: 2, accepted: requirements, payload: exact },
    paymentRequirements: requirements,
  };
  const resource = { url: "http://node.test/v1/chat/completions", description: "", mimeType: "application/json" };
  const v1 = {
    x402Version: 1,
    paymentPayload: { x402Version: 1, scheme: "exact", network: "eip155:31337", payload: exact },
    paymentRequirements: toV1Requirements(requirements, resource),
  };
  return { payer, requirements, exact, v2, v1 };
}

describe("facilitator", () => {
  it("GET /supported lists exact on eip155:31337 (v2 and v1) and the relayer's signer", async () => {
    const s = (await (await fetch(`${relayer.url}/supported`)).json()) as {
      kinds: { x402Version: number; scheme: string; network: string }[];
      signers: Record<string, string[]>;
    };
    expect(s.kinds).toContainEqual(expect.objectContaining({ x402Version: 2, scheme: "exact", network: caip2(31337) }));
    expect(s.kinds).toContainEqual(expect.objectContaining({ x402Version: 1, scheme: "exact", network: caip2(31337) }));
    expect(Object.values(s.signers).flat()).toContain(privateKeyToAccount(RELAYER_KEY).address);
  });

  it("POST /verify accepts a valid v2 and v1 payment and refuses a forged one", async () => {
    const payTo = privateKeyToAccount(generatePrivateKey()).address;
    const p = await payment(1234n, payTo);
    expect((await (await post(`${relayer.url}/verify`, p.v2)).json()) as VerifyResponse).toMatchObject({
      isValid: true,
      payer: p.payer.address,
    });
    expect((await (await post(`${relayer.url}/verify`, p.v1)).json()) as VerifyResponse).toMatchObject({
      isValid: true,
      payer: p.payer.address,
    });
    const forged = structuredClone(p.v2);
    forged.paymentPayload.payload.authorization.value = "1235";
    forged.paymentRequirements.amount = "1235";
    forged.paymentPayload.accepted.amount = "1235";
    const r = (await (await post(`${relayer.url}/verify`, forged)).json()) as VerifyResponse;
    expect(r).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
    expect((await post(`${relayer.url}/verify`, "nope")).status).toBe(200);
    const bad = await fetch(`${relayer.url}/verify`, { method: "POST", body: "{" });
    expect(bad.status).toBe(400);
  });

  it("POST /settle is idempotent: twice, and 5 at once, return the first result and move the money once", async () => {
    const payTo = privateKeyToAccount(generatePrivateKey()).address;
    const p = await payment(5_000n, payTo);
    const first = (await (await post(`${relayer.url}/settle`, p.v2)).json()) as SettleResponse;
    expect(first).toMatchObject({ success: true, payer: p.payer.address, network: caip2(31337), amount: "5000" });
    const again = (await (await post(`${relayer.url}/settle`, p.v2)).json()) as SettleResponse;
    expect(again).toEqual(first);
    expect(await chain.usdcBalance(payTo)).toBe(5_000n);

    const q = await payment(7_000n, payTo);
    const all = (await Promise.all(
      Array.from({ length: 5 }, () => post(`${relayer.url}/settle`, q.v1).then((r) => r.json())),
    )) as SettleResponse[];
    const txs = new Set(all.map((r) => r.transaction));
    expect(txs.size).toBe(1);
    expect(all.every((r) => r.success)).toBe(true);
    expect(all[0]?.network).toBe(caip2(31337));
    expect(await chain.usdcBalance(payTo)).toBe(12_000n);
    expect(await chain.usdcBalance(q.payer.address)).toBe(10_000_000n - 7_000n);
  });

  it("refuses to settle what would revert (insufficient balance) without spending gas", async () => {
    const payTo = privateKeyToAccount(generatePrivateKey()).address;
    const p = await payment(20_000_000n, payTo); // payer holds 10 USDC
    const nonce0 = await chain.publicClient.getTransactionCount({ address: relayer.relayer.deps.queue.address });
    const r = (await (await post(`${relayer.url}/settle`, p.v2)).json()) as SettleResponse;
    expect(r).toMatchObject({ success: false, errorReason: "invalid_exact_evm_insufficient_balance", transaction: "" });
    expect(await chain.publicClient.getTransactionCount({ address: relayer.relayer.deps.queue.address })).toBe(nonce0);
  });

  it("rate-limits per payer", async () => {
    const limited = await startRelayer(chain, { perSecond: 0.001, capacity: 2 });
    try {
      const p = await payment(1n, privateKeyToAccount(generatePrivateKey()).address);
      const results = [];
      for (let i = 0; i < 3; i++)
        results.push((await (await post(`${limited.url}/verify`, p.v2)).json()) as VerifyResponse);
      expect(results.map((r) => r.isValid)).toEqual([true, true, false]);
      expect(results[2]?.invalidReason).toBe("rate_limited");
      // Another payer is not affected.
      const other = await payment(1n, privateKeyToAccount(generatePrivateKey()).address);
      expect(((await (await post(`${limited.url}/verify`, other.v2)).json()) as VerifyResponse).isValid).toBe(true);
    } finally {
      await limited.close();
    }
  });
});

describe("transaction queue", () => {
  it("re-sends a signed transaction after a crash and resumes nonces; a key is never sent twice", async () => {
    const dbFile = path.join(chain.tmp, "queue-restart.sqlite");
    const account = privateKeyToAccount(RELAYER_KEY);
    const to = privateKeyToAccount(generatePrivateKey()).address;
    // First process: persists the signed transaction, then "crashes" before broadcasting it.
    const crashed = new TxQueue({
      db: openDb(dbFile),
      account,
      publicClient: chain.publicClient,
      chainId: 31337,
      log: silentLogger,
      broadcast: () => new Promise(() => {}),
    });
    await crashed.init();
    void crashed.submit({ to, data: "0x", value: 1234n, key: "restart-test" });
    for (let i = 0; i < 100 && !crashed.getByKey("restart-test"); i++) await new Promise((r) => setTimeout(r, 20));
    const row = crashed.getByKey("restart-test");
    expect(row?.status).toBe("signed");
    expect(await chain.publicClient.getBalance({ address: to })).toBe(0n);

    // Restart: a new queue on the same database re-sends it.
    const queue = new TxQueue({
      db: openDb(dbFile),
      account,
      publicClient: chain.publicClient,
      chainId: 31337,
      log: silentLogger,
    });
    await queue.init();
    const receipt = await queue.waitForReceipt(row?.hash as Hex);
    expect(receipt.status).toBe("success");
    expect(await chain.publicClient.getBalance({ address: to })).toBe(1234n);
    expect(queue.get(row?.hash as Hex)?.status).toBe("confirmed");
    const again = await queue.submit({ to, data: "0x", value: 1234n, key: "restart-test" });
    expect(again).toMatchObject({ hash: row?.hash, reused: true });
    const next = await queue.submit({ to, data: "0x", value: 1n });
    expect(next.nonce).toBe((row?.nonce ?? 0) + 1);
    await queue.waitForReceipt(next.hash);
    expect(await chain.publicClient.getBalance({ address: to })).toBe(1235n);
  });

  it("sends in nonce order under concurrency (20 submissions, 20 consecutive nonces)", async () => {
    const q = relayer.relayer.deps.queue;
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => q.submit({ to, data: "0x", value: BigInt(i + 1) })),
    );
    const nonces = results.map((r) => r.nonce);
    expect(nonces).toEqual([...nonces].sort((a, b) => a - b));
    expect(nonces.at(-1)! - nonces[0]!).toBe(19);
    await Promise.all(results.map((r) => q.waitForReceipt(r.hash)));
    expect(await chain.publicClient.getBalance({ address: to })).toBe(210n);
  });
});

describe("gasless sessions", () => {
  it("creates and ends a session for a renter holding no ETH; refund exact to the unit", async () => {
    const renter = await fundedPayer(chain, 100_000_000n);
    const { USDC, ComputeRental: rental } = chain.deployments;
    const durationHours = 3n;
    const gpuCount = 2n;
    const cost = await chain.publicClient.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "quote",
      args: [provider.address, USDC, gpuCount, durationHours],
    });
    expect(cost).toBe(RATE * gpuCount * durationHours);
    const token = { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: USDC };
    const body = await signGaslessSession({
      signer: renter,
      token,
      rental,
      provider: provider.address,
      durationHours,
      sshPublicKey: "ssh-ed25519 AAAA renter@test",
      gpuCount,
      value: cost,
    });

    // The nonce binds the terms: a relayer (or anyone) changing them is refused.
    const tampered = await post(`${relayer.url}/v1/sessions`, { ...body, sshPublicKey: "ssh-ed25519 AAAA attacker" });
    expect(tampered.status).toBe(400);
    expect(((await tampered.json()) as { error: { code: string } }).error.code).toBe("nonce_not_bound");
    const cheap = await signGaslessSession({
      signer: renter,
      token,
      rental,
      provider: provider.address,
      durationHours,
      sshPublicKey: "k",
      gpuCount,
      value: cost - 1n,
    });
    const underpaid = await post(`${relayer.url}/v1/sessions`, cheap);
    expect(underpaid.status).toBe(402);

    const created = await post(`${relayer.url}/v1/sessions`, body);
    expect(created.status).toBe(201);
    const s = (await created.json()) as { sessionId: string; renter: string; prepaid: string; transaction: string };
    expect(s).toMatchObject({ renter: renter.address, prepaid: cost.toString() });
    const again = await post(`${relayer.url}/v1/sessions`, body);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { sessionId: string }).sessionId).toBe(s.sessionId);
    const sessionId = BigInt(s.sessionId);
    const onchain = await chain.publicClient.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [sessionId],
    });
    expect(onchain.renter).toBe(renter.address);
    expect(await chain.usdcBalance(renter.address)).toBe(100_000_000n - cost);

    // Provider activates (its own gas); time passes.
    const anvilChain = defineChain({
      id: 31337,
      name: "anvil",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [chain.anvil.rpcUrl] } },
    });
    const wallet = createWalletClient({ chain: anvilChain, transport: http(chain.anvil.rpcUrl), account: provider });
    await chain.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: rental,
        abi: computeRentalAbi,
        functionName: "activateSession",
        args: [sessionId, '{"host":"127.0.0.1","port":2222,"username":"renter"}'],
      }),
      pollingInterval: 50,
    });
    await chain.publicClient.request({ method: "evm_increaseTime" as never, params: [4321] as never });
    await chain.publicClient.request({ method: "evm_mine" as never, params: [] as never });

    // A wrong signature is refused before any gas is spent.
    const intruder = privateKeyToAccount(generatePrivateKey());
    const nonce = await chain.publicClient.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "nonces",
      args: [renter.address],
    });
    const deadline = (await chain.publicClient.getBlock()).timestamp + 3600n; // chain time moved ahead
    const forged = await signEndSession({ signer: intruder, chainId: 31337, rental, sessionId, nonce, deadline });
    const refused = await post(`${relayer.url}/v1/sessions/${sessionId}`, forged, "DELETE");
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/InvalidSignature/);

    const end = await signEndSession({ signer: renter, chainId: 31337, rental, sessionId, nonce, deadline });
    const ended = await post(`${relayer.url}/v1/sessions/${sessionId}`, end, "DELETE");
    expect(ended.status).toBe(200);
    const e = (await ended.json()) as {
      refund: string;
      providerPayout: string;
      fee: string;
      usedSeconds: string;
      endedBy: string;
    };
    const after = await chain.publicClient.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [sessionId],
    });
    const used = BigInt(after.endedAt - after.startedAt);
    expect(BigInt(e.usedSeconds)).toBe(used);
    expect(used).toBeGreaterThanOrEqual(4321n);
    const billed = (RATE * gpuCount * used) / 3600n;
    const fee = (billed * BigInt(chain.deployments.feeBps)) / 10_000n;
    expect(BigInt(e.refund)).toBe(cost - billed);
    expect(BigInt(e.fee)).toBe(fee);
    expect(BigInt(e.providerPayout)).toBe(billed - fee);
    expect(e.endedBy).toBe(renter.address);
    const credit = await chain.publicClient.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "credits",
      args: [renter.address, USDC],
    });
    // The gasless path pushes the USDC refund straight to the renter's wallet: nothing left to withdraw.
    expect(credit).toBe(0n);
    expect(await chain.usdcBalance(renter.address)).toBe(100_000_000n - cost + (cost - billed));
    expect(await chain.publicClient.getBalance({ address: renter.address })).toBe(0n);
  });
});
