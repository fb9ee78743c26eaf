/**
 * Lifecycle behaviour: a client that disconnects stops generation, a request past the timeout gets a
 * 504, and a graceful shutdown lets streams finish (or ends them with an error frame).
 */
import { describe, expect, it } from "vitest";
import { MockBackend } from "./backends/mock.ts";
import { rejection, sseFrames, startTestNode } from "./testing/harness.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(10);
  }
}

describe("client disconnect", () => {
  it("aborting a stream stops the backend's generation", async () => {
    const mock = new MockBackend({ tokenDelayMs: 25 });
    const node = await startTestNode([mock]);
    try {
      const controller = new AbortController();
      const stream = await node.client.chat.completions.create(
        { model: "mock-model", messages: [{ role: "user", content: "long story" }], stream: true },
        { signal: controller.signal },
      );
      let contentChunks = 0;
      try {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content) contentChunks++;
          if (contentChunks === 2) controller.abort();
        }
      } catch {
        // Depending on timing the client ends the iteration or throws an abort error.
      }
      expect(contentChunks).toBe(2);
      await waitFor(() => mock.stats.aborted === 1);
      const tokensAtAbort = mock.stats.tokens;
      await sleep(150);
      expect(mock.stats).toMatchObject({ started: 1, completed: 0, aborted: 1 });
      expect(mock.stats.tokens).toBe(tokensAtAbort);
      expect(mock.stats.tokens).toBeLessThan(8);
    } finally {
      await node.close();
    }
  });

  it("a non-streaming request whose client goes away is aborted too", async () => {
    const mock = new MockBackend({ tokenDelayMs: 25 });
    const node = await startTestNode([mock]);
    try {
      const controller = new AbortController();
      const p = fetch(`${node.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: "x" }] }),
        signal: controller.signal,
      });
      await waitFor(() => mock.stats.tokens >= 2);
      controller.abort();
      await rejection(p);
      await waitFor(() => mock.stats.aborted === 1);
      expect(mock.stats.completed).toBe(0);
    } finally {
      await node.close();
    }
  });
});

describe("request timeout", () => {
  it("504 timeout when generation runs past REQUEST_TIMEOUT_MS", async () => {
    const mock = new MockBackend({ tokenDelayMs: 30 });
    const node = await startTestNode([mock], { requestTimeoutMs: 100 });
    try {
      const err = await rejection(
        node.client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "x" }] }),
      );
      expect(err).toMatchObject({ status: 504, type: "timeout_error", code: "timeout", param: null });
      expect(mock.stats.aborted).toBe(1);
    } finally {
      await node.close();
    }
  });

  it("a stream past the timeout ends with a timeout error frame", async () => {
    const node = await startTestNode([new MockBackend({ tokenDelayMs: 30 })], { requestTimeoutMs: 100 });
    try {
      const res = await fetch(`${node.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: "x" }], stream: true }),
      });
      const frames = await sseFrames(res);
      expect(JSON.parse(frames.at(-1) ?? "")).toMatchObject({ error: { code: "timeout", type: "timeout_error" } });
    } finally {
      await node.close();
    }
  });
});

describe("graceful shutdown", () => {
  const streamBody = JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: "x" }], stream: true });

  it("lets an in-flight stream finish, then closes", async () => {
    const mock = new MockBackend({ tokenDelayMs: 10 });
    const node = await startTestNode([mock], { shutdownTimeoutMs: 5_000 });
    const res = await fetch(`${node.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamBody,
    });
    await waitFor(() => mock.stats.tokens >= 1);
    const closed = node.close();
    const frames = await sseFrames(res);
    await closed;
    expect(frames.at(-1)).toBe("[DONE]");
    expect(mock.stats.completed).toBe(1);
    await expect(fetch(`${node.url}/health`)).rejects.toThrow();
  });

  it("ends streams still running at the shutdown timeout with an error frame", async () => {
    const mock = new MockBackend({ tokenDelayMs: 100 });
    const node = await startTestNode([mock], { shutdownTimeoutMs: 150 });
    const res = await fetch(`${node.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamBody,
    });
    await waitFor(() => mock.stats.tokens >= 1);
    const closed = node.close();
    const frames = await sseFrames(res);
    await closed;
    expect(JSON.parse(frames.at(-1) ?? "")).toEqual({
      error: {
        message: "The server is shutting down.",
        type: "service_unavailable_error",
        param: null,
        code: "server_shutdown",
      },
    });
    expect(mock.stats.aborted).toBe(1);
  });
});
