/**
 * x402 benchmark on a local anvil (automine): the latency a payment adds to a non-streaming inference request
 * (verify + settle through the relayer), measured against the same request to a free model in the same run,
 * and the relayer's settlement throughput.
 *
 *   npm run bench:x402                    # defaults: 40 requests each, 200 settlements, concurrency 16
 *   BENCH_REQUESTS=100 BENCH_SETTLEMENTS=500 npm run bench:x402
 */
import { createV1PaymentHeader, signAuthorization, buildPaymentRequirements } from "@jeju/compute-sdk/x402/index";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { HttpFacilitatorClient } from "../../node/src/payments/facilitator.ts";
import { fundedPayer, nodeApp, PAID_MODEL, startChain, startRelayer } from "../../test/e2e/x402-harness.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const SETTLEMENTS = Number(process.env.BENCH_SETTLEMENTS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return {
    n: s.length,
    mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(2),
    p50: +q(0.5).toFixed(2),
    p95: +q(0.95).toFixed(2),
  };
};

const chain = await startChain();
const relayer = await startRelayer(chain, { perSecond: 1e6, capacity: 1e6 });
try {
  const provider = privateKeyToAccount(generatePrivateKey()).address;
  const timings = { verify: [] as number[], settle: [] as number[] };
  const http = new HttpFacilitatorClient(relayer.url);
  const timed = <T>(bucket: number[], fn: () => Promise<T>) => {
    const t = performance.now();
    return fn().finally(() => bucket.push(performance.now() - t));
  };
  const node = nodeApp(chain, relayer.url, provider, {
    facilitator: {
      verify: (p, r) => timed(timings.verify, () => http.verify(p, r)),
      settle: (p, r) => timed(timings.settle, () => http.settle(p, r)),
    },
  });
  const url = "http://node.bench/v1/chat/completions";
  const body = (model: string) =>
    JSON.stringify({ model, messages: [{ role: "user", content: "Benchmark the payment path" }], max_tokens: 16 });
  const call = async (model: string, headers: Record<string, string> = {}) => {
    const t = performance.now();
    const res = await node.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: body(model),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${model}: HTTP ${res.status}`);
    return performance.now() - t;
  };

  // Payment headers are signed up front: the benchmark measures the server side (verify + settle).
  const payer = await fundedPayer(chain, 1_000_000_000n);
  const r402 = await node.fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(PAID_MODEL),
  });
  const requirement = ((await r402.json()) as { accepts: Parameters<typeof createV1PaymentHeader>[0]["requirement"][] })
    .accepts[0];
  if (!requirement) throw new Error("no 402 requirement");
  const headers = await Promise.all(
    Array.from({ length: REQUESTS + 5 }, () => createV1PaymentHeader({ signer: payer, chainId: 31337, requirement })),
  );

  for (let i = 0; i < 5; i++) {
    await call("mock-model");
    await call(PAID_MODEL, { "X-Payment": headers[REQUESTS + i] as string });
  }
  timings.verify.length = 0;
  timings.settle.length = 0;
  const free: number[] = [];
  const paid: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    free.push(await call("mock-model"));
    paid.push(await call(PAID_MODEL, { "X-Payment": headers[i] as string }));
  }
  node.payments.close();

  // Relayer throughput: distinct authorizations settled through POST /settle, CONCURRENCY in flight.
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const requirements: PaymentRequirements = buildPaymentRequirements({
    chainId: 31337,
    asset: chain.deployments.USDC,
    payTo,
    amount: 1_000n,
    tokenName: "USD Coin",
    tokenVersion: "2",
  });
  const token = { name: "USD Coin", version: "2", chainId: 31337, verifyingContract: chain.deployments.USDC };
  const payloads: PaymentPayload[] = await Promise.all(
    Array.from({ length: SETTLEMENTS }, async () => ({
      x402Version: 2,
      accepted: requirements,
      payload: await signAuthorization({ signer: payer, token, to: payTo, value: 1_000n }),
    })),
  );
  let next = 0;
  let ok = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const i = next++;
        const p = payloads[i];
        if (!p) return;
        const r = await http.settle(p, requirements);
        if (r.success) ok++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const received = await chain.usdcBalance(payTo);

  const f = stats(free);
  const p = stats(paid);
  const result = {
    chain: "anvil (automine), loopback",
    inference: {
      requests: REQUESTS,
      freeMs: f,
      paidMs: p,
      addedLatencyMs: { p50: +(p.p50 - f.p50).toFixed(2), mean: +(p.mean - f.mean).toFixed(2) },
      verifyMs: stats(timings.verify),
      settleMs: stats(timings.settle),
    },
    relayer: {
      settlements: SETTLEMENTS,
      concurrency: CONCURRENCY,
      succeeded: ok,
      seconds: +seconds.toFixed(2),
      settlementsPerSecond: +(ok / seconds).toFixed(1),
      payeeReceived: received.toString(),
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (ok !== SETTLEMENTS || received !== BigInt(SETTLEMENTS) * 1_000n) process.exitCode = 1;
} finally {
  await relayer.close();
  await chain.stop();
}
