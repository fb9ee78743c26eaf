/**
 * One parsed request per inference call. The payment middleware and the route read the body through
 * `parsedRequest`: the first caller reads (bounded, chunked bodies included) and parses it with the route's
 * zod schema, and every later caller gets that same object. So what is priced is what the backend runs:
 * there is no second parse that could read a field the price did not see.
 *
 * `markWorkStarted` is called by a route right before it hands the request to the backend; after that the
 * payment authorization is consumed whatever the client does (see payments/middleware.ts).
 */
import {
  type ChatCompletionRequest,
  type CompletionRequest,
  completionRequestSchema,
  type EmbeddingRequest,
  embeddingRequestSchema,
  parseChatRequest,
  parseRequest,
} from "@jeju/compute-sdk/openai/index";
import type { Context } from "hono";
import { readJsonBody } from "../http/body.ts";

export type InferenceKind = "chat" | "completions" | "embeddings";

export type InferenceBody = {
  chat: ChatCompletionRequest;
  completions: CompletionRequest;
  embeddings: EmbeddingRequest;
};

declare module "hono" {
  interface ContextVariableMap {
    inferenceRequest: ChatCompletionRequest | CompletionRequest | EmbeddingRequest;
    inferenceWorkStarted: boolean;
  }
}

/** Which inference endpoint a path is, or undefined. */
export function inferenceKind(path: string): InferenceKind | undefined {
  const p = path.replace(/\/+$/, "");
  if (p.endsWith("/v1/chat/completions")) return "chat";
  if (p.endsWith("/v1/completions")) return "completions";
  if (p.endsWith("/v1/embeddings")) return "embeddings";
  return undefined;
}

/** The request's body, parsed once (cached on the context); a bad body throws the OpenAI 400/413. */
export async function parsedRequest<K extends InferenceKind>(
  c: Context,
  kind: K,
  maxBodyBytes: number,
): Promise<InferenceBody[K]> {
  const cached = c.get("inferenceRequest");
  if (cached !== undefined) return cached as InferenceBody[K];
  const json = await readJsonBody(c, maxBodyBytes);
  const body =
    kind === "chat"
      ? parseChatRequest(json)
      : kind === "completions"
        ? parseRequest(completionRequestSchema, json)
        : parseRequest(embeddingRequestSchema, json);
  c.set("inferenceRequest", body);
  return body as InferenceBody[K];
}

/**
 * The completion-token cap the backend will honour: chat takes `max_completion_tokens`, else `max_tokens`
 * (OpenAI's rule); text completions have only `max_tokens`. Pricing and generation both call this.
 */
export function effectiveMaxTokens(kind: "chat" | "completions", body: ChatCompletionRequest | CompletionRequest) {
  if (kind === "chat") {
    const b = body as ChatCompletionRequest;
    return b.max_completion_tokens ?? b.max_tokens ?? undefined;
  }
  return (body as CompletionRequest).max_tokens ?? undefined;
}

/** Fix the cap the backend runs with to `maxTokens` (what was priced), whatever the client sent. */
export function capMaxTokens(
  kind: "chat" | "completions",
  body: ChatCompletionRequest | CompletionRequest,
  maxTokens: number,
): void {
  if (kind === "chat") {
    const b = body as ChatCompletionRequest;
    b.max_completion_tokens = maxTokens;
    b.max_tokens = maxTokens;
  } else {
    (body as CompletionRequest).max_tokens = maxTokens;
  }
}

/** The route is about to run the backend: from here on the request costs the provider work. */
export function markWorkStarted(c: Context): void {
  c.set("inferenceWorkStarted", true);
}
