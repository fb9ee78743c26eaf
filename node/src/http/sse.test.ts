import { describe, expect, it } from "vitest";
import { AsyncQueue } from "../backends/queue.ts";
import { sseResponse } from "./sse.ts";

const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Read one write (one enqueued chunk) from the body, with the time it arrived. */
async function nextWrite(reader: ReadableStreamDefaultReader<Uint8Array>) {
  const { done, value } = await reader.read();
  return { done, text: done ? "" : decoder.decode(value), at: performance.now() };
}

describe("sseResponse write batching", () => {
  it("writes the first frame at once, then batches frames that arrive within the window into one write", async () => {
    const frames = new AsyncQueue<string>();
    const res = sseResponse(frames, () => {}, { flushMs: 100 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();

    const t0 = performance.now();
    frames.push("data: 1\n\n");
    const first = await nextWrite(reader);
    expect(first.text).toBe("data: 1\n\n");
    expect(first.at - t0).toBeLessThan(50);

    frames.push("data: 2\n\n");
    frames.push("data: 3\n\n");
    await sleep(5);
    frames.push("data: 4\n\n");
    const batch = await nextWrite(reader);
    // Three frames, one write, each still its own SSE event; held no longer than the window.
    expect(batch.text).toBe("data: 2\n\ndata: 3\n\ndata: 4\n\n");
    expect(batch.at - first.at).toBeGreaterThanOrEqual(90);
    expect(batch.at - first.at).toBeLessThan(400);

    frames.push("data: [DONE]\n\n");
    frames.end();
    // The end flushes what is pending without waiting for the window.
    const t1 = performance.now();
    const last = await nextWrite(reader);
    expect(last.text).toBe("data: [DONE]\n\n");
    expect(last.at - t1).toBeLessThan(50);
    expect((await nextWrite(reader)).done).toBe(true);
  });

  it("writes frames spaced wider than the window one by one, without delay", async () => {
    const frames = new AsyncQueue<string>();
    const reader = (sseResponse(frames, () => {}, { flushMs: 50 }).body as ReadableStream<Uint8Array>).getReader();
    for (const n of [1, 2, 3]) {
      const pushed = performance.now();
      frames.push(`data: ${n}\n\n`);
      const w = await nextWrite(reader);
      expect(w.text).toBe(`data: ${n}\n\n`);
      expect(w.at - pushed).toBeLessThan(40);
      await sleep(80);
    }
    frames.end();
    expect((await nextWrite(reader)).done).toBe(true);
  });

  it("writes every frame on its own with flushMs 0", async () => {
    async function* gen() {
      for (let i = 0; i < 5; i++) yield `data: ${i}\n\n`;
    }
    const reader = (sseResponse(gen(), () => {}, { flushMs: 0 }).body as ReadableStream<Uint8Array>).getReader();
    const writes: string[] = [];
    for (;;) {
      const w = await nextWrite(reader);
      if (w.done) break;
      writes.push(w.text);
    }
    expect(writes).toEqual(["data: 0\n\n", "data: 1\n\n", "data: 2\n\n", "data: 3\n\n", "data: 4\n\n"]);
  });

  it("errors the stream when the source throws (routes turn backend errors into a frame before this)", async () => {
    const frames = new AsyncQueue<string>();
    const reader = (sseResponse(frames, () => {}, { flushMs: 1000 }).body as ReadableStream<Uint8Array>).getReader();
    frames.push("data: 1\n\n");
    expect((await nextWrite(reader)).text).toBe("data: 1\n\n");
    frames.push("data: 2\n\n");
    await sleep(5);
    frames.fail(new Error("source broke"));
    await expect(reader.read()).rejects.toThrow("source broke");
  });

  it("on client cancel, runs onCancel, closes the source and drops what was held", async () => {
    let cancelled: unknown;
    let returned = false;
    const frames = new AsyncQueue<string>(() => {
      returned = true;
    });
    const reader = (
      sseResponse(
        frames,
        (reason) => {
          cancelled = reason;
        },
        { flushMs: 1000 },
      ).body as ReadableStream<Uint8Array>
    ).getReader();
    frames.push("data: 1\n\n");
    expect((await nextWrite(reader)).text).toBe("data: 1\n\n");
    frames.push("data: 2\n\n");
    await reader.cancel(new Error("gone"));
    expect((cancelled as Error).message).toBe("gone");
    expect(returned).toBe(true);
    frames.push("data: 3\n\n");
    await sleep(5);
  });
});
