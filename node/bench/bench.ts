/**
 * `npm run bench:node`: the node's overhead and its embedded-engine throughput.
 *
 * 1. HTTP: the node (mock-model) vs a bare Hono server returning the same JSON, each in its own process,
 *    driven alternately by the same keep-alive load generator in this process (interleaved rounds).
 *    Targets: throughput ≥ 0.85×, added latency p50 ≤ 0.3 ms and p99 ≤ 2 ms.
 * 2. Engine: tokens/s of the embedded model streamed through the node (SSE over HTTP, read by a client in
 *    this process) vs node-llama-cpp called directly in this process: same prompt, greedy, same token
 *    budget, same thread count, in alternating paired rounds. The ratio is the median of the per-round
 *    ratios. Target ≥ 0.9×. Skipped when the GGUF is missing.
 *
 * Env: BENCH_ROUNDS (6), BENCH_TP_MS (1500), BENCH_LAT_MS (1000), BENCH_CONNECTIONS (16),
 * BENCH_TOKENS (128), BENCH_ENGINE_ROUNDS (24), MODEL_PATH (models/compute-tiny.gguf); the node under test
 * takes the usual node env (e.g. STREAM_FLUSH_MS).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaCompletion, LlamaLogLevel } from "node-llama-cpp";
import { REPO_ROOT } from "../src/config.ts";
import { runLoad, percentile } from "./load.ts";
import { BENCH_REQUEST } from "./shared.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = num("BENCH_ROUNDS", 6);
const TP_MS = num("BENCH_TP_MS", 1500);
const LAT_MS = num("BENCH_LAT_MS", 1000);
const CONNECTIONS = num("BENCH_CONNECTIONS", 16);
const TOKENS = num("BENCH_TOKENS", 128);
const ENGINE_ROUNDS = num("BENCH_ENGINE_ROUNDS", 24);
const MODEL_PATH = path.resolve(REPO_ROOT, process.env.MODEL_PATH ?? "models/compute-tiny.gguf");

const out = (line = "") => process.stdout.write(`${line}\n`);
const fmt = (n: number, d = 3) => n.toFixed(d);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};

type Target = { name: string; port: number; child: ChildProcess };

/** CPU time (user + system, µs) the target process has used so far. */
function cpuOf(t: Target): Promise<number> {
  return new Promise((resolve) => {
    t.child.once("message", (m) => {
      const u = m as NodeJS.CpuUsage;
      resolve(u.user + u.system);
    });
    t.child.send("cpu");
  });
}

function startTarget(name: string, args: string[]): Promise<Target> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "server.ts"), ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      env: { ...process.env, LOG_LEVEL: "warn" },
    });
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /PORT (\d+)/.exec(buf);
      if (m) resolve({ name, port: Number(m[1]), child });
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function httpBench(): Promise<boolean> {
  out("## HTTP overhead: node (mock-model) vs bare Hono, same JSON");
  out(
    `${ROUNDS} interleaved rounds: throughput ${TP_MS} ms at ${CONNECTIONS} connections, latency ${LAT_MS} ms at 1 connection (per server per round)`,
  );
  const bare = await startTarget("bare", ["bare"]);
  const node = await startTarget("node", ["node"]);
  const ratios: number[] = [];
  const rps: Record<string, number[]> = { bare: [], node: [] };
  const samples: Record<string, number[]> = { bare: [], node: [] };
  const p50Deltas: number[] = [];
  const cpuPerReq: Record<string, number[]> = { bare: [], node: [] };
  try {
    for (const t of [bare, node]) {
      await runLoad({
        port: t.port,
        path: "/v1/chat/completions",
        body: BENCH_REQUEST,
        connections: CONNECTIONS,
        durationMs: 1000,
        warmupMs: 0,
      });
    }
    for (let r = 0; r < ROUNDS; r++) {
      const round: Record<string, { rps: number; p50: number; p99: number }> = {};
      // Alternate who goes first so drift in machine load hits both alike.
      for (const t of r % 2 === 0 ? [bare, node] : [node, bare]) {
        const common = { port: t.port, path: "/v1/chat/completions", body: BENCH_REQUEST, warmupMs: 200 };
        const cpu0 = await cpuOf(t);
        const tp = await runLoad({ ...common, connections: CONNECTIONS, durationMs: TP_MS, warmupMs: 0 });
        const cpu1 = await cpuOf(t);
        cpuPerReq[t.name]?.push((cpu1 - cpu0) / tp.requests);
        const lat = await runLoad({ ...common, connections: 1, durationMs: LAT_MS });
        if (tp.errors + lat.errors > 0) throw new Error(`${t.name}: ${tp.errors + lat.errors} failed requests`);
        round[t.name] = { rps: tp.rps, p50: percentile(lat.latenciesMs, 50), p99: percentile(lat.latenciesMs, 99) };
        rps[t.name]?.push(tp.rps);
        for (const v of lat.latenciesMs) samples[t.name]?.push(v);
      }
      const b = round.bare;
      const n = round.node;
      if (b === undefined || n === undefined) continue;
      ratios.push(n.rps / b.rps);
      p50Deltas.push(n.p50 - b.p50);
      out(
        `  round ${r + 1}: bare ${fmt(b.rps, 0).padStart(5)} req/s p50 ${fmt(b.p50)} p99 ${fmt(b.p99)} | node ${fmt(n.rps, 0).padStart(5)} req/s p50 ${fmt(n.p50)} p99 ${fmt(n.p99)} | ratio ${fmt(n.rps / b.rps)}`,
      );
    }
  } finally {
    bare.child.kill();
    node.child.kill();
  }
  const pooled = (name: string) => Float64Array.from(samples[name] ?? []).sort();
  const bareLat = pooled("bare");
  const nodeLat = pooled("node");
  const ratio = median(ratios);
  const addP50 = percentile(nodeLat, 50) - percentile(bareLat, 50);
  const addP99 = percentile(nodeLat, 99) - percentile(bareLat, 99);
  out(
    `  bare: median ${fmt(median(rps.bare ?? []), 0)} req/s, p50 ${fmt(percentile(bareLat, 50))} ms, p99 ${fmt(percentile(bareLat, 99))} ms (${bareLat.length} samples)`,
  );
  out(
    `  node: median ${fmt(median(rps.node ?? []), 0)} req/s, p50 ${fmt(percentile(nodeLat, 50))} ms, p99 ${fmt(percentile(nodeLat, 99))} ms (${nodeLat.length} samples)`,
  );
  const bareCpu = median(cpuPerReq.bare ?? []);
  const nodeCpu = median(cpuPerReq.node ?? []);
  out(
    `  server CPU per request: bare ${fmt(bareCpu, 1)} µs, node ${fmt(nodeCpu, 1)} µs → capacity ratio ${fmt(bareCpu / nodeCpu)}× (immune to other load on the machine)`,
  );
  const ok = ratio >= 0.85 && addP50 <= 0.3 && addP99 <= 2;
  out(
    `  throughput ratio ${fmt(ratio)}× (median of paired rounds; target ≥ 0.85)   added p50 ${fmt(addP50)} ms (≤ 0.3)   added p99 ${fmt(addP99)} ms (≤ 2)   ${ok ? "PASS" : "FAIL"}`,
  );
  return ok;
}

function streamCompletion(
  port: number,
  model: string,
  prompt: string,
  maxTokens: number,
): Promise<{ tokens: number; ms: number }> {
  const body = JSON.stringify({
    model,
    prompt,
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/v1/completions",
        method: "POST",
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => {
          const ms = performance.now() - t0;
          const usage = /"usage":\{"prompt_tokens":\d+,"completion_tokens":(\d+)/.exec(text);
          if (!usage || !text.endsWith("data: [DONE]\n\n")) return reject(new Error(`bad stream: ${text.slice(-300)}`));
          resolve({ tokens: Number(usage[1]), ms });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function engineBench(): Promise<boolean> {
  out();
  out("## Embedded engine: tokens/s through the node vs node-llama-cpp directly");
  if (!existsSync(MODEL_PATH)) {
    out(`  skipped: ${MODEL_PATH} not found`);
    return true;
  }
  const modelId = path.basename(MODEL_PATH).replace(/\.gguf$/i, "");
  const prompt = "In the beginning";
  const llama = await getLlama({
    build: "never",
    logLevel: LlamaLogLevel.error,
    progressLogs: false,
    skipDownload: true,
  });
  const model = await llama.loadModel({ modelPath: MODEL_PATH });
  // The same thread count the node's llamacpp backend picks for a model this small (one; see llamacpp.ts).
  const context = await model.createContext({ contextSize: Math.min(model.trainContextSize, 4096), threads: 1 });
  const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
  const budget = Math.min(TOKENS, context.contextSize - 16);
  const direct = async () => {
    let tokens = 0;
    let streamed = 0;
    const t0 = performance.now();
    await completion.generateCompletionWithMeta(prompt, {
      maxTokens: budget,
      temperature: 0,
      disableContextShift: true,
      onToken: (t) => {
        tokens += t.length;
      },
      // Take the text as it streams, as the node does (it costs the same as not asking: measured).
      onTextChunk: (text) => {
        streamed += text.length;
      },
    });
    const ms = performance.now() - t0;
    if (streamed === 0) throw new Error("the engine streamed no text");
    return { tokens, ms };
  };
  const node = await startTarget("llama", ["llama", MODEL_PATH]);
  const directTps: number[] = [];
  const nodeTps: number[] = [];
  const ratios: number[] = [];
  try {
    for (let w = 0; w < 3; w++) {
      await direct();
      await streamCompletion(node.port, modelId, prompt, budget);
    }
    for (let r = 0; r < ENGINE_ROUNDS; r++) {
      // Alternate who goes first so drift in machine load hits both alike.
      const viaNode = () => streamCompletion(node.port, modelId, prompt, budget);
      let d: { tokens: number; ms: number };
      let n: { tokens: number; ms: number };
      if (r % 2 === 0) {
        d = await direct();
        n = await viaNode();
      } else {
        n = await viaNode();
        d = await direct();
      }
      if (d.tokens !== budget || n.tokens !== budget)
        throw new Error(`expected ${budget} tokens, got direct ${d.tokens}, node ${n.tokens}`);
      const dt = (d.tokens / d.ms) * 1000;
      const nt = (n.tokens / n.ms) * 1000;
      directTps.push(dt);
      nodeTps.push(nt);
      ratios.push(nt / dt);
      out(
        `  round ${String(r + 1).padStart(2)}  direct ${d.tokens} tok in ${fmt(d.ms, 1)} ms = ${fmt(dt, 1)} tok/s   node ${n.tokens} tok in ${fmt(n.ms, 1)} ms = ${fmt(nt, 1)} tok/s   ratio ${fmt(nt / dt)}`,
      );
    }
  } finally {
    node.child.kill();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
  const ratio = median(ratios);
  const ok = ratio >= 0.9;
  out(
    `  median: direct ${fmt(median(directTps), 1)} tok/s   node ${fmt(median(nodeTps), 1)} tok/s   ratio ${fmt(ratio)}× (median of ${ratios.length} paired rounds; target ≥ 0.9)   ${ok ? "PASS" : "FAIL"}`,
  );
  return ok;
}

const started = performance.now();
const httpOk = process.env.BENCH_ONLY === "engine" ? true : await httpBench();
const engineOk = await engineBench();
out();
out(
  `done in ${fmt((performance.now() - started) / 1000, 1)} s: ${httpOk && engineOk ? "all targets met" : "some targets missed"}`,
);
process.exit(0);
