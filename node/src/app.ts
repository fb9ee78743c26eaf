/**
 * The provider node's HTTP app. `createApp` wires routes to their dependencies; serving it is
 * index.ts's job (and the tests', which call `app.request()` or serve it on a free port).
 */
import { OpenAIError, routeNotFoundError, toOpenAIError } from "@jeju/compute-sdk/openai/index";
import { Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ModelRegistry } from "./backends/registry.ts";
import { cachedHardware, type HardwareInfo } from "./hardware/detect.ts";
import { InflightTracker } from "./http/inflight.ts";
import { DEFAULT_STREAM_FLUSH_MS } from "./http/sse.ts";
import type { Logger } from "./logger.ts";
import { a2aRoutes } from "@jeju/compute-sdk/agents/a2a";
import { internalCaller, internalStreamer } from "@jeju/compute-sdk/agents/internal";
import { mcpRoute } from "@jeju/compute-sdk/agents/mcp";
import { chatCompletionsRoute } from "./routes/chat.ts";
import { completionsRoute } from "./routes/completions.ts";
import { embeddingsRoute } from "./routes/embeddings.ts";
import { hardwareRoute } from "./routes/hardware.ts";
import { healthRoute } from "./routes/health.ts";
import { modelsRoute } from "./routes/models.ts";
import { RentalError } from "./rentals/errors.ts";
import { InvalidSshKeyError } from "@jeju/compute-sdk/ssh/keys";

export const NODE_VERSION = "0.1.0";

export type AppDeps = {
  registry: ModelRegistry;
  log: Logger;
  /** Largest request body accepted (bytes). */
  maxBodyBytes?: number;
  /** A request still generating after this long is stopped with a 504 (ms). */
  requestTimeoutMs?: number;
  /** Streaming write batching window (ms); see http/sse.ts. */
  streamFlushMs?: number;
  /** Requests in flight (shared with the server for graceful shutdown). */
  inflight?: InflightTracker;
  hardware?: () => Promise<HardwareInfo>;
  /** Whether marketplace routes (chain-backed) are on. */
  chainEnabled?: boolean;
  /** x402 payment middleware for paid models, run before the inference routes. */
  payments?: MiddlewareHandler;
  /** Extra sub-apps (marketplace, rentals, agents) mounted by index.ts when configured. */
  mount?: (app: Hono) => void;
};

export type NodeApp = Hono & { inflight: InflightTracker };

export function createApp(deps: AppDeps): NodeApp {
  const { registry, log } = deps;
  const inflight = deps.inflight ?? new InflightTracker();
  const ctx = {
    registry,
    inflight,
    log,
    maxBodyBytes: deps.maxBodyBytes ?? 4 * 1024 * 1024,
    requestTimeoutMs: deps.requestTimeoutMs ?? 300_000,
    streamFlushMs: deps.streamFlushMs ?? DEFAULT_STREAM_FLUSH_MS,
  };
  const app = new Hono();

  if (log.isLevelEnabled("debug")) {
    app.use(async (c, next) => {
      const start = performance.now();
      await next();
      log.debug(
        { method: c.req.method, path: c.req.path, status: c.res.status, ms: +(performance.now() - start).toFixed(3) },
        "request",
      );
    });
  }

  if (deps.payments !== undefined) {
    for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]) app.use(path, deps.payments);
  }
  app.route("/v1/chat/completions", chatCompletionsRoute(ctx));
  app.route("/v1/completions", completionsRoute(ctx));
  app.route("/v1/embeddings", embeddingsRoute(ctx));
  app.route("/v1/models", modelsRoute(registry));
  app.route("/v1/hardware", hardwareRoute(deps.hardware ?? cachedHardware()));
  app.route(
    "/health",
    healthRoute({ registry, inflight, chainEnabled: deps.chainEnabled ?? false, version: NODE_VERSION }),
  );
  deps.mount?.(app);

  // Agents: A2A and MCP front-ends over this same API, called in-process.
  const agents = {
    call: internalCaller((request) => app.fetch(request)),
    stream: internalStreamer((request) => app.fetch(request)),
    log,
    version: NODE_VERSION,
    chainEnabled: deps.chainEnabled ?? false,
  };
  app.route("/", a2aRoutes(agents));
  app.route("/mcp", mcpRoute(agents));

  app.notFound((c) => {
    const err = routeNotFoundError(c.req.method, c.req.path);
    return c.json(err.toJSON(), 404);
  });

  app.onError((err, c) => {
    let error: OpenAIError;
    if (err instanceof HTTPException) {
      error = new OpenAIError(err.status, err.message || "Request failed.", {
        type: err.status >= 500 ? "server_error" : "invalid_request_error",
      });
    } else if (err instanceof RentalError) {
      // Rentals errors carry their HTTP status and a stable code (session_not_running, container_not_found, …).
      error = new OpenAIError(err.status, err.message, {
        code: err.code,
        param: "param" in err && typeof err.param === "string" ? err.param : null,
        type: err.status >= 500 ? "server_error" : "invalid_request_error",
        cause: err,
      });
    } else if (err instanceof InvalidSshKeyError) {
      error = new OpenAIError(400, err.message, { code: err.code, param: "sshPublicKey" });
    } else {
      error = toOpenAIError(err);
    }
    const known =
      err instanceof OpenAIError ||
      err instanceof HTTPException ||
      err instanceof RentalError ||
      err instanceof InvalidSshKeyError;
    if (!known) {
      log.error({ err, method: c.req.method, path: c.req.path }, "unexpected error");
    } else if (error.status >= 500) {
      log.warn({ code: error.code, err: error.cause ?? error, path: c.req.path }, error.message);
    }
    return c.json(error.toJSON(), error.status as 400);
  });

  return Object.assign(app, { inflight });
}
