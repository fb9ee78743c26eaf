/**
 * A small closed-loop HTTP load generator over keep-alive connections: `connections` workers each send
 * a request, wait for the full answer, and send the next, for `durationMs`.
 */
import http from "node:http";

export type LoadResult = { requests: number; errors: number; seconds: number; rps: number; latenciesMs: Float64Array };

export async function runLoad(options: {
  port: number;
  path: string;
  body: string;
  connections: number;
  durationMs: number;
  warmupMs?: number;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const payload = Buffer.from(options.body);
  const headers = { "content-type": "application/json", "content-length": String(payload.length) };
  const send = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: options.port, path: options.path, method: "POST", agent, headers },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });

  const latencies: number[] = [];
  let errors = 0;
  let recording = false;
  const worker = async (until: number) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const status = await send().catch(() => 0);
      const ms = performance.now() - t0;
      if (!recording) continue;
      if (status !== 200) errors++;
      else latencies.push(ms);
    }
  };
  const warmupUntil = performance.now() + (options.warmupMs ?? 500);
  await Promise.all(Array.from({ length: options.connections }, () => worker(warmupUntil)));
  recording = true;
  const start = performance.now();
  const until = start + options.durationMs;
  await Promise.all(Array.from({ length: options.connections }, () => worker(until)));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return { requests: latencies.length, errors, seconds, rps: latencies.length / seconds, latenciesMs: sorted };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
