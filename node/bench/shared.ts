import { MockBackend } from "../src/backends/mock.ts";
import { ModelRegistry } from "../src/backends/registry.ts";
import { createApp } from "../src/app.ts";
import { silentLogger } from "../src/logger.ts";

/** The request both servers answer: the seed's chat example, on mock-model. */
export const BENCH_REQUEST = JSON.stringify({
  model: "mock-model",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Explain quantum computing in simple terms." },
  ],
});

/** What the node answers to BENCH_REQUEST (the bare server returns exactly this object). */
export async function benchResponse(): Promise<unknown> {
  const registry = new ModelRegistry([new MockBackend()], { log: silentLogger });
  await registry.refresh();
  const app = createApp({ registry, log: silentLogger });
  const res = await app.request("/v1/chat/completions", { method: "POST", body: BENCH_REQUEST });
  return res.json();
}
