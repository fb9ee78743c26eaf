import { OpenAIError, SSE_HEADERS } from "@jeju/compute-sdk/openai/index";
import type { AbortHandle } from "../backends/types.ts";

const encoder = new TextEncoder();

/**
 * A streaming SSE Response pulled from `frames`. When the client goes away the stream is cancelled:
 * `onCancel` runs (it aborts generation) and the source iterator is closed.
 */
export function sseResponse(frames: AsyncIterator<string>, onCancel: (reason: unknown) => void): Response {
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await frames.next();
        if (done) controller.close();
        else controller.enqueue(encoder.encode(value));
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel(reason) {
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
