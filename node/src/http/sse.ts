import { OpenAIError, SSE_HEADERS } from "@jeju/compute-sdk/openai/index";
import type { AbortHandle } from "../backends/types.ts";

const encoder = new TextEncoder();

/** Default for `flushMs`: at most one socket write per stream every 10 ms (100 writes/s). */
export const DEFAULT_STREAM_FLUSH_MS = 10;

export type SseOptions = {
  /**
   * Frames that arrive within this many milliseconds of the last write are held and written together
   * when the window closes. Every frame is still its own SSE event (one chunk per token, as OpenAI
   * sends them); only the socket writes are batched. The first frame always goes out at once, so time to
   * first token is unchanged; 0 writes every frame as it comes.
   */
  flushMs?: number;
};

/**
 * A streaming SSE Response fed from `frames`. When the client goes away the stream is cancelled:
 * `onCancel` runs (it aborts generation) and the source iterator is closed.
 *
 * Why batch writes: a small model on a CPU makes a token every ~0.6 ms, and one socket write per token
 * (a `writev` through the HTTP chunked encoder) cost ~80 µs of the node's main thread, the thread that
 * also drives the engine. Capping writes per stream cuts that to a few µs per token; at GPU-server speeds
 * (tens of ms per token) every token is still written the moment it arrives.
 */
export function sseResponse(
  frames: AsyncIterator<string>,
  onCancel: (reason: unknown) => void,
  options: SseOptions = {},
): Response {
  const flushMs = options.flushMs ?? DEFAULT_STREAM_FLUSH_MS;
  let pending = "";
  let lastWrite = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const flush = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (!open || pending === "") return;
        controller.enqueue(encoder.encode(pending));
        pending = "";
        lastWrite = performance.now();
      };
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await frames.next();
            if (done || !open) break;
            pending += value;
            const wait = lastWrite + flushMs - performance.now();
            if (wait <= 0) flush();
            else timer ??= setTimeout(flush, wait);
          }
          flush();
          if (open) controller.close();
        } catch (err) {
          if (open) controller.error(err);
        } finally {
          open = false;
          if (timer !== undefined) clearTimeout(timer);
        }
      })();
    },
    async cancel(reason) {
      open = false;
      onCancel(reason ?? new Error("client disconnected"));
      await frames.return?.();
    },
  });
  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}

/** The reason to report when generation stopped: the deadline's reason if it fired, else the error. */
export function stopReason(err: unknown, abort: AbortHandle): unknown {
  if (abort.aborted && abort.reason instanceof OpenAIError) return abort.reason;
  return err;
}
