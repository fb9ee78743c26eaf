/**
 * Everything the node does when a chain is configured: marketplace reads (from the indexer, falling back to
 * the registry), x402 payments for the models this provider priced on-chain, and heartbeats. Rentals plug in
 * here too. index.ts calls `startChainServices` and hands `payments` / `mount` to `createApp`.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import type { Hono, MiddlewareHandler } from "hono";
import type { NodeConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { marketplaceOptions, providersRoutes } from "@jeju/compute-sdk/marketplace/index";
import { SqliteSpentNonceStore, type TokenCounter, x402Payments } from "../payments/index.ts";
import { ContainerManager } from "../rentals/containers.ts";
import { detectGpus } from "../rentals/gpus.ts";
import { RentalManager } from "../rentals/manager.ts";
import { ensureHostGuard } from "../rentals/hostguard.ts";
import { sessionsRoute } from "../rentals/routes.ts";
import { SessionStore } from "../rentals/store.ts";
import { RentalWatcher } from "../rentals/watcher.ts";
import { networkRoute } from "../routes/network.ts";
import { SshServer } from "../ssh/server.ts";
import { type ChainContext, createChainContext } from "./context.ts";
import { aliasAwarePricing, onChainPricing } from "./pricing.ts";

export type ChainServices = {
  ctx: ChainContext;
  /** Set when this node runs rentals (wallet + DOCKER_ENABLED + dockerd reachable). */
  rentals: Rentals | undefined;
  payments: MiddlewareHandler | undefined;
  mount: (app: Hono) => void;
  close(): Promise<void>;
};

export async function startChainServices(
  config: NodeConfig,
  chainConfig: NonNullable<NodeConfig["chain"]>,
  log: Logger,
  options: {
    countTokens?: TokenCounter;
    /** The served model a requested name routes to (aliases), so aliases of a priced model are charged. */
    servedModel?: (name: string) => string | undefined;
  } = {},
): Promise<ChainServices> {
  const ctx = createChainContext({
    rpcUrl: chainConfig.rpcUrl,
    privateKey: chainConfig.privateKey,
    deploymentsFile: chainConfig.deploymentsFile,
  });
  const chainId = await ctx.publicClient.getChainId();
  if (chainId !== ctx.deployments.chainId) {
    throw new Error(
      `RPC_URL serves chain ${chainId} but ${chainConfig.deploymentsFile} is for chain ${ctx.deployments.chainId}`,
    );
  }
  log.info(
    {
      chainId,
      registry: ctx.deployments.ComputeRegistry,
      rental: ctx.deployments.ComputeRental,
      provider: ctx.provider,
    },
    "chain configured",
  );
  const closers: Array<() => void | Promise<void>> = [];
  const mounts: Array<(app: Hono) => void> = [];

  if (chainConfig.indexerUrl !== undefined) {
    const routes = providersRoutes(
      marketplaceOptions({
        indexerUrl: chainConfig.indexerUrl,
        rpcUrl: chainConfig.rpcUrl,
        deploymentsFile: chainConfig.deploymentsFile,
      }),
    );
    mounts.push((app) => app.route("/", routes));
  } else {
    log.warn("INDEXER_URL unset: /v1/providers is off");
  }

  let payments: MiddlewareHandler | undefined;
  const provider = ctx.provider;
  if (provider !== undefined) {
    const info = await ctx.publicClient.readContract({
      address: ctx.deployments.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [provider],
    });
    if (!info.registered) {
      log.warn(
        { provider },
        'this key is not a registered provider: register with `cast send $COMPUTE_REGISTRY "register(string,string,uint256)" …`; every model is free until then',
      );
    }
    if (info.registered && !info.active) {
      log.warn(
        { provider, stake: info.stake.toString() },
        'this provider is inactive in the registry (deactivated, or reported for over 4 hours without a heartbeat): the gateway and renters skip it; reactivate with `cast send $COMPUTE_REGISTRY "reactivate()"` (needs the minimum stake)',
      );
    }
    const pricing = await onChainPricing(ctx, provider, { log });
    closers.push(() => pricing.close());
    mkdirSync(config.dataDir, { recursive: true });
    const store = new SqliteSpentNonceStore(path.join(config.dataDir, `x402-payments-${chainId}.sqlite`));
    const middleware = x402Payments({
      pricing: aliasAwarePricing((model) => pricing.priceOf(model), options.servedModel ?? (() => undefined)),
      facilitatorUrl: chainConfig.relayerUrl,
      chainId,
      usdc: ctx.deployments.USDC,
      payTo: provider,
      spentNonceStore: store,
      countTokens: options.countTokens,
      maxBodyBytes: config.maxBodyBytes,
      log,
    });
    payments = middleware;
    closers.push(() => middleware.close());

    const wallet = ctx.wallet;
    if (chainConfig.heartbeatIntervalMs > 0 && info.registered && wallet !== undefined) {
      const beat = async () => {
        try {
          const hash = await wallet.writeContract({
            address: ctx.deployments.ComputeRegistry,
            abi: computeRegistryAbi,
            functionName: "heartbeat",
          });
          await ctx.publicClient.waitForTransactionReceipt({ hash });
          log.debug({ hash }, "heartbeat sent");
        } catch (err) {
          log.warn({ err }, "heartbeat failed (the registry slashes after 4 hours without one)");
        }
      };
      void beat();
      const timer = setInterval(() => void beat(), chainConfig.heartbeatIntervalMs);
      timer.unref();
      closers.push(() => clearInterval(timer));
    }
  } else {
    log.warn("PRIVATE_KEY unset: no payments, heartbeats or rentals (read-only node)");
  }

  const rentals =
    provider !== undefined && config.rentals.enabled ? await startRentals(config, ctx, chainId, log) : undefined;
  if (rentals) closers.push(() => rentals.close());
  else if (provider !== undefined)
    log.warn("rentals are off on this node (DOCKER_ENABLED=false or dockerd unreachable)");
  const ssh = rentals ? { host: config.rentals.sshHost, port: rentals.ssh.port } : null;
  mounts.push((app) => {
    app.route(
      "/v1/network",
      networkRoute({ deployments: ctx.deployments, relayerUrl: chainConfig.relayerUrl, provider, ssh }),
    );
    app.route(
      "/v1/sessions",
      sessionsRoute({
        ctx,
        relayerUrl: chainConfig.relayerUrl,
        ssh: ssh ?? { host: config.rentals.sshHost, port: config.rentals.sshPort },
        rentals: rentals?.manager,
        log,
      }),
    );
  });

  return {
    ctx,
    rentals,
    payments,
    mount: (app) => {
      for (const m of mounts) m(app);
    },
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}

export type Rentals = {
  manager: RentalManager;
  watcher: RentalWatcher;
  ssh: SshServer;
  close(): Promise<void>;
};

/**
 * Rentals: the session store (per chain, in DATA_DIR), containers (dockerd at DOCKER_HOST), the SSH server on
 * SSH_PORT and the chain watcher. When dockerd does not answer: fatal if DOCKER_ENABLED was set explicitly,
 * else an error in the log and no rentals.
 */
async function startRentals(
  config: NodeConfig,
  ctx: ChainContext,
  chainId: number,
  log: Logger,
): Promise<Rentals | undefined> {
  const rc = config.rentals;
  const provider = ctx.provider;
  if (provider === undefined) return undefined;
  const dir = path.join(config.dataDir, `rentals-${chainId}`);
  const store = SessionStore.open(dir);
  const containers = new ContainerManager({
    provider,
    instance: store.instanceName(rc.instance),
    defaultImage: rc.image,
    volumesRoot: path.join(dir, "volumes"),
    logger: log,
  });
  try {
    await containers.ping();
  } catch (err) {
    const msg = `${(err as Error).message}: start dockerd (tools/docker/dockerd.sh start; export DOCKER_HOST) or set DOCKER_ENABLED=false`;
    store.close();
    if (rc.explicit) throw new Error(msg);
    log.error(msg);
    return undefined;
  }
  await ensureHostGuard(log);
  if (!(await containers.imageExists(rc.image))) {
    log.warn(
      { image: rc.image },
      "session image not present locally (tools/docker/build-base-image.sh builds compute/session:latest); it is pulled on first use",
    );
  }
  const gpus = await detectGpus().catch(() => []);
  const manager = new RentalManager({
    store,
    containers,
    maxRentals: rc.maxRentals,
    gpus,
    image: rc.image,
    logger: log,
  });
  const ssh = new SshServer({
    sessions: manager,
    containers,
    port: rc.sshPort,
    host: config.host,
    dataDir: config.dataDir,
    relayKeys: rc.relayKeys,
    logger: log,
  });
  await ssh.listen();
  manager.attachSsh((id) => ssh.revoke(id));
  const watcher = new RentalWatcher({
    ctx,
    manager,
    ssh: { host: rc.sshHost, port: ssh.port, hostKey: ssh.hostPublicKey },
    confirmations: rc.confirmations,
    pollIntervalMs: rc.pollIntervalMs,
    withdrawIntervalMs: rc.withdrawIntervalMs,
    logger: log,
  });
  await watcher.start();
  log.info(
    {
      sshPort: ssh.port,
      sshHost: rc.sshHost,
      maxRentals: rc.maxRentals,
      image: rc.image,
      gpus: gpus.length,
      dockerHost: rc.dockerHost ?? "default",
      store: dir,
      instance: containers.instance,
      sshRelays: rc.relayKeys.length,
    },
    "rentals on",
  );
  return {
    manager,
    watcher,
    ssh,
    close: async () => {
      await watcher.stop();
      await ssh.close();
      store.close();
    },
  };
}
