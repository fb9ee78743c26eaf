/**
 * Serve a node app over HTTP and stop it gracefully: stop accepting, let in-flight generations finish
 * (up to a timeout), end the rest with an error frame, then close connections.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import type { NodeApp } from "./app.ts";
import type { Logger } from "./logger.ts";

export type ServeOptions = {
  port: number;
  host?: string;
  log: Logger;
  shutdownTimeoutMs?: number;
};

export type RunningServer = {
  url: string;
  port: number;
  server: Server;
  /** Graceful stop; resolves once every connection is closed. */
  close(): Promise<void>;
};

export function startServer(app: NodeApp, options: ServeOptions): Promise<RunningServer> {
  const { log } = options;
  const host = options.host ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: host }) as Server;
    // Long generations must not be cut by Node's default per-request timeout.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${shownHost}:${port}`,
        port,
        server,
        close: () => {
          closing ??= (async () => {
            const closed = new Promise<void>((done) => server.close(() => done()));
            server.closeIdleConnections();
            const inflight = app.inflight.size;
            if (inflight > 0) log.info({ inflight }, "waiting for in-flight requests");
            const { aborted } = await app.inflight.drain(options.shutdownTimeoutMs ?? 10_000);
            if (aborted > 0) log.warn({ aborted }, "ended in-flight requests at shutdown");
            // Give the last frames a moment to flush, then drop whatever is left.
            await new Promise((r) => setTimeout(r, aborted > 0 ? 100 : 0));
            server.closeAllConnections();
            await closed;
          })();
          return closing;
        },
      });
    });
  });
}
