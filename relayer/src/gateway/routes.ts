/**
 * The gateway's `/v1` surface on the relayer app: the same inference API as a node.
 *
 *   GET  /v1/models             union of the models active providers serve (`owned_by: compute-marketplace`)
 *   GET  /v1/models/:model
 *   POST /v1/chat/completions   POST /v1/completions   POST /v1/embeddings   → proxied (see gateway.ts)
 *
 * Errors use OpenAI's shape `{"error":{"message","type","param","code"}}`; an unexpected error is logged and
 * answered with a generic 500 (never a stack trace).
 */
import { internalError, OpenAIError } from "@jeju/compute-sdk/openai/index";
import { Hono } from "hono";
import type { Logger } from "../logger.ts";
import type { Gateway } from "./gateway.ts";

export const INFERENCE_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"] as const;

export function gatewayRoutes(gateway: Gateway, log: Logger): Hono {
  const app = new Hono();
  app.get("/v1/models", async (c) => c.json(await gateway.models()));
  app.get("/v1/models/:model{.+}", async (c) => c.json(await gateway.model(c.req.param("model"))));
  for (const path of INFERENCE_PATHS) app.post(path, (c) => gateway.proxy(c, path));
  app.onError((err, c) => {
    if (!(err instanceof OpenAIError)) log.error({ err, path: c.req.path }, "gateway: unexpected error");
    const e = err instanceof OpenAIError ? err : internalError(err);
    return c.json(e.toJSON(), e.status as 400);
  });
  return app;
}
