/**
 * Serves the relayer on RELAYER_PORT (4010).
 */
import { serve } from "@hono/node-server";
import { createRelayer } from "./app.ts";
import { loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { createSshRelay, relayClientPublicKeyFile, type SshRelay } from "./ssh/relay.ts";

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

// The SSH relay (`ssh -p 2222 s<id>@gateway`). A port in use (a node's SSH server on the same machine) turns it
// off with an error in the log; the HTTP side keeps running.
let relay: SshRelay | undefined;
if (config.sshRelayPort !== undefined) {
  const r = createSshRelay({
    dataDir: config.dataDir,
    publicClient: relayer.deps.publicClient,
    rental: config.deployments.rental,
    registry: config.deployments.registry,
    fromBlock: config.deployments.startBlock === undefined ? undefined : BigInt(config.deployments.startBlock),
    port: config.sshRelayPort,
    host: config.host,
    log,
  });
  await r.listen().then(
    () => {
      relay = r;
      log.info({ relayKeyFile: relayClientPublicKeyFile(config.dataDir) }, "ssh relay key (for nodes' SSH_RELAY_KEYS)");
    },
    (err: Error) =>
      log.error({ err: err.message, port: config.sshRelayPort }, "ssh relay not started (set SSH_RELAY_PORT, or off)"),
  );
}

relayer.keeper?.start();

function shutdown(signal: string) {
  log.info({ signal }, "shutting down");
  void relay?.close();
  void relayer.keeper?.stop();
  server.close(() => {
    relayer.close();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.once("SIGINT", () => shutdown("SIGINT"));
process.once("SIGTERM", () => shutdown("SIGTERM"));
