/**
 * POST /v1/embeddings: `input` string or array, `encoding_format` float|base64, `dimensions`.
 */
import { type EmbeddingList, encodeFloat32Base64, invalidRequestError } from "@jeju/compute-sdk/openai/index";
import { Hono } from "hono";
import { clientGone } from "../http/client.ts";
import { stopReason } from "../http/sse.ts";
import type { InferenceContext } from "./context.ts";
import { markWorkStarted, parsedRequest } from "./request.ts";

export function embeddingsRoute(ctx: InferenceContext): Hono {
  const app = new Hono();

  app.post("/", async (c) => {
    const body = await parsedRequest(c, "embeddings", ctx.maxBodyBytes);
    const input = typeof body.input === "string" ? [body.input] : body.input;
    input.forEach((text, i) => {
      if (text === "") {
        const param = typeof body.input === "string" ? "input" : `input.[${i}]`;
        throw invalidRequestError(
          `Invalid '${param}': empty string. Expected a non-empty string.`,
          param,
          "invalid_value",
        );
      }
    });
    const route = await ctx.registry.resolve(body.model);
    const deadline = ctx.inflight.begin(clientGone(c), ctx.requestTimeoutMs);
    markWorkStarted(c);
    try {
      const result = await route.backend.embed({
        model: route.backendModel,
        input,
        dimensions: body.dimensions ?? undefined,
        abort: deadline,
      });
      const base64 = body.encoding_format === "base64";
      const response: EmbeddingList = {
        object: "list",
        data: result.embeddings.map((vector, index) => ({
          object: "embedding",
          index,
          embedding: base64 ? encodeFloat32Base64(vector) : vector,
        })),
        model: body.model,
        usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
      };
      return c.json(response);
    } catch (err) {
      const reason = stopReason(err, deadline);
      deadline.abort(reason);
      throw reason;
    } finally {
      ctx.inflight.release(deadline);
    }
  });

  return app;
}
