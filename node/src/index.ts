/**
 * `npm run node`: load config, load backends (the embedded model first), serve, stop cleanly on
 * SIGTERM/SIGINT.
 */
import { createApp } from "./app.ts";
import { LlamaCppBackend } from "./backends/llamacpp.ts";
import { loadBackends } from "./backends/load.ts";
import { ModelRegistry } from "./backends/registry.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { type ChainServices, startChainServices } from "./chain/services.ts";
import { startServer } from "./server.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger().fatal(err.message);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  if (config.chain === undefined) {
    log.warn("no chain configured (RPC_URL unset): serving inference only; marketplace and rental routes are off");
  }

  const backends = await loadBackends(config, log);
  if (backends.length === 0) log.warn({ MODEL_BACKEND: config.backends }, "no backend could start");
  // The docs' model names (llama2, nomic-embed-text) fall back to the embedded model when nothing serves them.
  const embedded = backends.find((b): b is LlamaCppBackend => b instanceof LlamaCppBackend);
  const fallbackAliases: Record<string, string> = {};
  if (embedded !== undefined) for (const name of config.fallbackModels) fallbackAliases[name] = embedded.modelId;
  const registry = new ModelRegistry(backends, { aliases: config.modelAliases, fallbackAliases, log });
  await registry.refresh();
  const models = await registry.list();

  let chain: ChainServices | undefined;
  if (config.chain !== undefined) {
    try {
      chain = await startChainServices(config, config.chain, log, {
        servedModel: (name) => registry.peek(name)?.backendModel,
      });
    } catch (err) {
      log.fatal({ err }, `chain set-up failed: ${(err as Error).message}`);
      await registry.close();
      process.exit(1);
    }
  }

  const app = createApp({
    registry,
    log,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    streamFlushMs: config.streamFlushMs,
    chainEnabled: chain !== undefined,
    payments: chain?.payments,
    mount: chain?.mount,
  });
  const server = await startServer(app, {
    port: config.port,
    host: config.host,
    log,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });
  log.info(
    {
      url: server.url,
      models: models.map((m) => m.id),
      backends: backends.map((b) => b.name),
      ...(Object.keys(fallbackAliases).length > 0 ? { fallbacks: fallbackAliases } : {}),
    },
    `compute node listening on ${server.url}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      log.error("shutdown took too long: exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs + 5_000);
    force.unref();
    await server.close();
    await chain?.close();
    await registry.close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  createLogger().fatal({ err }, "node failed to start");
  process.exit(1);
});
