/**
 * Test helpers: a node (real HTTP server on a free port) over the given backends, with an `openai`
 * client pointed at it.
 */
import OpenAI from "openai";
import { createApp } from "../app.ts";
import { ModelRegistry } from "../backends/registry.ts";
import type { Backend, ChatParams, Message } from "../backends/types.ts";
import { silentLogger } from "../logger.ts";
import { type RunningServer, startServer } from "../server.ts";

export type TestNodeOptions = {
  aliases?: Record<string, string>;
  fallbackAliases?: Record<string, string>;
  maxBodyBytes?: number;
  requestTimeoutMs?: number;
  shutdownTimeoutMs?: number;
};

export type TestNode = {
  url: string;
  baseURL: string;
  client: OpenAI;
  registry: ModelRegistry;
  server: RunningServer;
  close(): Promise<void>;
};

export async function startTestNode(backends: Backend[], options: TestNodeOptions = {}): Promise<TestNode> {
  const registry = new ModelRegistry(backends, {
    aliases: options.aliases,
    fallbackAliases: options.fallbackAliases,
    log: silentLogger,
    refreshIntervalMs: 0,
  });
  await registry.refresh();
  const app = createApp({
    registry,
    log: silentLogger,
    maxBodyBytes: options.maxBodyBytes,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  const server = await startServer(app, {
    port: 0,
    host: "127.0.0.1",
    log: silentLogger,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 2_000,
  });
  const baseURL = `${server.url}/v1`;
  return {
    url: server.url,
    baseURL,
    client: new OpenAI({ baseURL, apiKey: "optional-for-public-models", maxRetries: 0 }),
    registry,
    server,
    close: () => server.close(),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Raw SSE frames of a streaming response, as `data:` payload strings. */
export async function sseFrames(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => f.slice("data: ".length));
}

/** Catch the error a promise rejects with. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

/** Backend-level chat parameters with every sampling option unset (tests call backends directly with these). */
export function chatParams(model: string, messages: Message[], extra: Partial<ChatParams> = {}): ChatParams {
  return {
    model,
    messages,
    maxTokens: undefined,
    temperature: undefined,
    topP: undefined,
    stop: [],
    seed: undefined,
    presencePenalty: undefined,
    frequencyPenalty: undefined,
    choiceIndex: 0,
    abort: { aborted: false, reason: undefined, signal: new AbortController().signal },
    ...extra,
  };
}

/** The tool calls a streamed chat delivered, assembled from `delta.tool_calls` fragments, and its finish reason. */
export async function streamedToolCalls(
  stream: AsyncIterable<OpenAI.ChatCompletionChunk>,
): Promise<{ calls: Array<{ id: string; name: string; arguments: string }>; finish: string | null | undefined }> {
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
      const c = calls.get(d.index) ?? { id: "", name: "", arguments: "" };
      c.id += d.id ?? "";
      c.name += d.function?.name ?? "";
      c.arguments += d.function?.arguments ?? "";
      calls.set(d.index, c);
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { calls: [...calls.values()], finish };
}
