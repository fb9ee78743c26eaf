/**
 * Cheap per-request facts from the Node request when served by @hono/node-server (reading
 * `c.req.raw.signal` or `.headers` there builds objects on every request), with a fallback for
 * `app.request()` in tests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";
import type { ClientGone } from "./deadline.ts";

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

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

/** A poll that says whether the client went away before the response finished. */
export function clientGone(c: Context): ClientGone {
  const outgoing = bindings(c)?.outgoing;
  if (outgoing !== undefined) {
    return () => !outgoing.writableFinished && (outgoing.destroyed || outgoing.socket?.destroyed === true);
  }
  const raw = c.req.raw;
  return () => raw.signal.aborted;
}
