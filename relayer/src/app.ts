/**
 * The relayer's HTTP app: the x402 facilitator (`/verify`, `/settle`, `/supported`), the gasless session relay
 * (`/v1/sessions`), the inference gateway (`/v1/models`, `/v1/chat/completions`, `/v1/completions`,
 * `/v1/embeddings`, routed to registered providers; see gateway/), the Gateway UI at `/nodes` (ui/nodes.ts) and
 * `/health`. `createApp` builds it from its
 * dependencies (tests call `app.request()`); `createRelayer` builds the dependencies from a config; index.ts
 * serves it.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Chain, createPublicClient, defineChain, getAddress, http, isAddress, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TxQueue } from "./chain/txQueue.ts";
import type { RelayerConfig } from "./config.ts";
import { openDb, type RelayerDb } from "./db.ts";
import { RelayerError } from "./errors.ts";
import { Facilitator } from "./facilitator/facilitator.ts";
import { facilitatorRoute } from "./facilitator/routes.ts";
import {
  type CreateGatewayOptions,
  createGateway,
  DEFAULT_INDEXER_URL,
  type Gateway,
  gatewayRoutes,
} from "./gateway/index.ts";
import { RateLimiter } from "./http/rateLimit.ts";
import type { Logger } from "./logger.ts";
import { a2aRoutes } from "@jeju/compute-sdk/agents/a2a";
import { internalCaller, internalStreamer } from "@jeju/compute-sdk/agents/internal";
import { mcpRoute } from "@jeju/compute-sdk/agents/mcp";
import { providersRoutes, type ProvidersRoutesOptions } from "@jeju/compute-sdk/marketplace/index";
import { OpenAIError } from "@jeju/compute-sdk/openai/index";
import { DowntimeKeeper } from "./keeper/downtime.ts";
import { sessionsRoute } from "./sessions/routes.ts";
import { nodesRoutes } from "./ui/nodes.ts";

const RELAYER_VERSION = "0.1.0";

export type AppDeps = {
  facilitator: Facilitator;
  queue: TxQueue;
  publicClient: PublicClient;
  chainId: number;
  rental: `0x${string}`;
  usdc: `0x${string}`;
  log: Logger;
  rateLimiter?: RateLimiter;
  receiptTimeoutMs?: number;
  /** The inference gateway; without it the `/v1` inference routes are not mounted. */
  gateway?: Gateway;
  /** Where event searches start (the deployment block). */
  startBlock?: bigint;
  /** ComputeRegistry (sessions without a payment are quoted by their provider). */
  registry?: `0x${string}`;
  /** The Gateway UI at /nodes: the registry it registers into, and the RPC its `cast` commands name. */
  ui?: { registry: `0x${string}`; rpcUrl: string };
  /** The marketplace reads (`/v1/providers…`, `/v1/network`): the registry and the indexer. */
  marketplace?: { registry: `0x${string}`; startBlock?: bigint; providers: ProvidersRoutesOptions };
};

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.route("/", facilitatorRoute(deps.facilitator));
  app.route("/v1/sessions", sessionsRoute(deps));
  if (deps.marketplace !== undefined) {
    const m = deps.marketplace;
    // What a node answers too, so the SDK and the CLI work with the gateway as their endpoint: the chain and
    // contracts (no provider and no ssh of its own: sessions carry their provider's), and the providers.
    app.get("/v1/network", (c) =>
      c.json({
        chainId: deps.chainId,
        contracts: { ComputeRegistry: m.registry, ComputeRental: deps.rental, USDC: deps.usdc },
        startBlock: m.startBlock === undefined ? null : Number(m.startBlock),
        relayer: null,
        provider: null,
        ssh: null,
        gateway: true,
      }),
    );
    app.route("/", providersRoutes(m.providers));
  }
  if (deps.gateway !== undefined) {
    app.route("/", gatewayRoutes(deps.gateway, deps.log));
    // Agents: A2A and MCP over this same marketplace API, called in-process (inference routed to providers,
    // provider discovery, rental quotes and sessions).
    const agents = {
      call: internalCaller((request) => app.fetch(request)),
      stream: internalStreamer((request) => app.fetch(request)),
      log: deps.log,
      version: RELAYER_VERSION,
      chainEnabled: deps.marketplace !== undefined,
      role: "gateway" as const,
    };
    app.route("/", a2aRoutes(agents));
    app.route("/mcp", mcpRoute(agents));
  }
  if (deps.ui !== undefined) {
    app.route(
      "/",
      nodesRoutes({
        publicClient: deps.publicClient,
        registry: deps.ui.registry,
        chainId: deps.chainId,
        directory: deps.gateway?.directory,
        rpcUrl: deps.ui.rpcUrl,
        log: deps.log,
      }),
    );
  }
  app.get("/health", async (c) => {
    const block = await deps.publicClient.getBlockNumber().catch(() => undefined);
    return c.json({
      status: block === undefined ? "degraded" : "ok",
      chainId: deps.chainId,
      relayer: deps.queue.address,
      blockNumber: block?.toString() ?? null,
      transactions: deps.queue.stats(),
    });
  });
  app.notFound((c) =>
    c.json(new RelayerError(404, "not_found", `No route for ${c.req.method} ${c.req.path}`).toJSON(), 404),
  );
  app.onError((err, c) => {
    // The agents' routes (A2A, MCP) answer bad input with OpenAI-shaped errors, as the inference routes do.
    if (err instanceof OpenAIError) return c.json(err.toJSON(), err.status as 400);
    let e: RelayerError;
    if (err instanceof RelayerError) e = err;
    else if (err instanceof HTTPException) e = new RelayerError(err.status, "http_error", err.message);
    else {
      deps.log.error({ err, path: c.req.path }, "unexpected error");
      e = new RelayerError(500, "internal_error", "Internal error.", { retryable: true });
    }
    if (e.status === 429 && typeof e.details?.retryAfterMs === "number") {
      c.header("Retry-After", String(Math.ceil(e.details.retryAfterMs / 1000)));
    }
    return c.json(e.toJSON(), e.status as 400);
  });
  return app;
}

export type Relayer = {
  app: Hono;
  deps: AppDeps;
  db: RelayerDb;
  /** Reports providers silent for over 4 hours (index.ts starts it; off without a registry). */
  keeper: DowntimeKeeper | undefined;
  close(): void;
};

export type RelayerOptions = {
  /** Gateway settings beyond the config's (cache times, a fetch), mostly for tests. */
  gateway?: Partial<Omit<CreateGatewayOptions, "publicClient" | "registry" | "log">>;
};

/** Build every dependency from a config and recover the transaction queue. */
export async function createRelayer(
  config: Pick<RelayerConfig, "rpcUrl" | "privateKey" | "deployments" | "dbFile" | "rateLimit"> &
    Partial<Pick<RelayerConfig, "indexerUrl" | "gatewayTimeoutMs" | "gatewayMaxBodyBytes" | "downtimeCheckIntervalMs">>,
  log: Logger,
  options: RelayerOptions = {},
): Promise<Relayer> {
  const { chainId } = config.deployments;
  const chain: Chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
  const publicClient = createPublicClient({
    chain,
    transport: http(config.rpcUrl),
    pollingInterval: 100,
  }) as PublicClient;
  const account = privateKeyToAccount(config.privateKey);
  const db = openDb(config.dbFile);
  const queue = new TxQueue({ db, account, publicClient, chainId, log });
  await queue.init();
  const rateLimiter = new RateLimiter(config.rateLimit);
  const usdc = getAddress(config.deployments.usdc);
  const facilitator = new Facilitator({ db, queue, publicClient, chainId, assets: [usdc], log, rateLimiter });
  // The gateway needs the registry to check providers on-chain; without one it is not mounted.
  const registry = config.deployments.registry;
  const gateway =
    typeof registry === "string" && isAddress(registry)
      ? createGateway({
          indexerUrl: config.indexerUrl ?? DEFAULT_INDEXER_URL,
          timeoutMs: config.gatewayTimeoutMs,
          maxBodyBytes: config.gatewayMaxBodyBytes,
          ...options.gateway,
          publicClient,
          registry: getAddress(registry),
          log,
        })
      : undefined;
  if (gateway === undefined) log.warn("no ComputeRegistry in the deployments: the inference gateway is off");
  const deps: AppDeps = {
    facilitator,
    queue,
    publicClient,
    chainId,
    rental: getAddress(config.deployments.rental),
    usdc,
    log,
    rateLimiter,
    gateway,
    ui: gateway === undefined ? undefined : { registry: getAddress(registry), rpcUrl: config.rpcUrl },
    registry: gateway === undefined ? undefined : getAddress(registry),
    startBlock: config.deployments.startBlock === undefined ? undefined : BigInt(config.deployments.startBlock),
    marketplace:
      gateway === undefined
        ? undefined
        : {
            registry: getAddress(registry),
            startBlock: config.deployments.startBlock === undefined ? undefined : BigInt(config.deployments.startBlock),
            providers: {
              indexer: config.indexerUrl ?? DEFAULT_INDEXER_URL,
              usdc,
              chain: { client: publicClient, registry: getAddress(registry), tokens: [usdc] },
            },
          },
  };
  const keeper =
    gateway === undefined
      ? undefined
      : new DowntimeKeeper({
          listProviders: async () =>
            (await gateway.directory.providers()).map((p) => ({ address: p.address, lastHeartbeat: p.lastHeartbeat })),
          publicClient,
          registry: getAddress(registry),
          queue,
          chainId,
          log,
          intervalMs: config.downtimeCheckIntervalMs,
        });
  return { app: createApp(deps), deps, db, keeper, close: () => db.close() };
}
