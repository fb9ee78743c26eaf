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
import { marketplaceOptions, providersRoutes } from "../marketplace/index.ts";
import { SqliteSpentNonceStore, type TokenCounter, x402Payments } from "../payments/index.ts";
import { type ChainContext, createChainContext } from "./context.ts";
import { onChainPricing } from "./pricing.ts";

export type ChainServices = {
  ctx: ChainContext;
  payments: MiddlewareHandler | undefined;
  mount: (app: Hono) => void;
  close(): Promise<void>;
};

export async function startChainServices(
  config: NodeConfig,
  chainConfig: NonNullable<NodeConfig["chain"]>,
  log: Logger,
  options: { countTokens?: TokenCounter } = {},
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
    { chainId, registry: ctx.deployments.ComputeRegistry, rental: ctx.deployments.ComputeRental, provider: ctx.provider },
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
        "this key is not a registered provider: register with `cast send $COMPUTE_REGISTRY \"register(string,string,uint256)\" …`; every model is free until then",
      );
    }
    const pricing = await onChainPricing(ctx, provider, { log });
    closers.push(() => pricing.close());
    mkdirSync(config.dataDir, { recursive: true });
    const store = new SqliteSpentNonceStore(path.join(config.dataDir, `x402-payments-${chainId}.sqlite`));
    const middleware = x402Payments({
      pricing: (model) => pricing.priceOf(model),
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

    if (chainConfig.heartbeatIntervalMs > 0 && info.registered) {
      const wallet = ctx.wallet;
      const beat = async () => {
        try {
          const hash = await wallet!.writeContract({
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

  return {
    ctx,
    payments,
    mount: (app) => {
      for (const m of mounts) m(app);
    },
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}
