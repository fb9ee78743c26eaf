/**
 * Cheap per-request facts from the Node request when served by @hono/node-server (reading
 * `c.req.raw.signal` or `.headers` there builds objects on every request), with a fallback for
 * `app.request()` in tests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";
import type { ClientWatcher } from "./deadline.ts";

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

const CLIENT_GONE = "client disconnected";

function bindings(c: Context): NodeBindings | undefined {
  const env = c.env as NodeBindings | undefined;
  return env !== undefined && env.outgoing !== undefined && typeof env.outgoing.once === "function" ? env : undefined;
}

/** The declared Content-Length, or null. */
export function contentLength(c: Context): string | null {
  const incoming = bindings(c)?.incoming;
  if (incoming !== undefined) return incoming.headers["content-length"] ?? null;
  return c.req.raw.headers.get("content-length");
}

/** Watch for the client going away before the response finished. */
export function clientWatcher(c: Context): ClientWatcher {
  const outgoing = bindings(c)?.outgoing;
  if (outgoing !== undefined) {
    return (onGone) => {
      const onClose = () => {
        if (!outgoing.writableFinished) onGone(new Error(CLIENT_GONE));
      };
      outgoing.once("close", onClose);
      return () => outgoing.off("close", onClose);
    };
  }
  const signal = c.req.raw.signal;
  return (onGone) => {
    const onAbort = () => onGone(signal.reason ?? new Error(CLIENT_GONE));
    if (signal.aborted) {
      onAbort();
      return () => {};
    }
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  };
}
