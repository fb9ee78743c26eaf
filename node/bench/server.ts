/**
 * A benchmark target, run as a child process so it has its own event loop (and core):
 *   tsx node/bench/server.ts bare   — a bare Hono server returning the mock's JSON for the bench request
 *   tsx node/bench/server.ts node   — the compute node (createApp) with the mock backend
 *   tsx node/bench/server.ts llama <model.gguf> — the compute node with the embedded engine only
 * Prints `PORT <n>` when listening.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createApp } from "../src/app.ts";
import { LlamaCppBackend } from "../src/backends/llamacpp.ts";
import { MockBackend } from "../src/backends/mock.ts";
import { ModelRegistry } from "../src/backends/registry.ts";
import type { Backend } from "../src/backends/types.ts";
import { createLogger } from "../src/logger.ts";
import { startServer } from "../src/server.ts";
import { BENCH_REQUEST, benchResponse } from "./shared.ts";

const mode = process.argv[2];

// The bench asks each target for its CPU time over IPC: CPU per request is a capacity measure that
// other processes on the machine cannot skew the way they skew wall-clock throughput.
process.on("message", (msg) => {
  if (msg === "cpu") process.send?.(process.cpuUsage());
  if (msg === "exit") process.exit(0);
});
const log = createLogger("warn");

async function main() {
  if (mode === "bare") {
    const fixed = await benchResponse();
    const app = new Hono();
    app.post("/v1/chat/completions", async (c) => {
      await c.req.json();
      return c.json(fixed);
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    server.keepAliveTimeout = 5_000;
    server.once("listening", () => console.log(`PORT ${(server.address() as AddressInfo).port}`));
    return;
  }
  let backends: Backend[];
  if (mode === "node") backends = [new MockBackend()];
  else if (mode === "llama") {
    const modelPath = process.argv[3];
    if (!modelPath) throw new Error("usage: server.ts llama <model.gguf>");
    backends = [await LlamaCppBackend.load({ modelPath, log })];
  } else throw new Error(`unknown mode ${mode}`);
  const registry = new ModelRegistry(backends, { log });
  await registry.refresh();
  const app = createApp({
    registry,
    log,
    ...(process.env.STREAM_FLUSH_MS !== undefined ? { streamFlushMs: Number(process.env.STREAM_FLUSH_MS) } : {}),
  });
  const running = await startServer(app, { port: 0, host: "127.0.0.1", log });
  console.log(`PORT ${running.port}`);
  void BENCH_REQUEST;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
