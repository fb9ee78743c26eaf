/**
 * Serves the relayer on RELAYER_PORT (4010).
 */
import { serve } from "@hono/node-server";
import { createRelayer } from "./app.ts";
import { loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";

const config = loadConfig();
const log = createLogger(config.logLevel);
const relayer = await createRelayer(config, log);
const server = serve({ fetch: relayer.app.fetch, port: config.port, hostname: config.host }, (info) => {
  log.info(
    {
      port: info.port,
      relayer: relayer.deps.queue.address,
      chainId: config.deployments.chainId,
      indexer: config.indexerUrl,
      gatewayTimeoutMs: config.gatewayTimeoutMs,
    },
    `relayer listening on http://${config.host}:${info.port}`,
  );
});

function shutdown(signal: string) {
  log.info({ signal }, "shutting down");
  server.close(() => {
    relayer.close();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.once("SIGINT", () => shutdown("SIGINT"));
process.once("SIGTERM", () => shutdown("SIGTERM"));
