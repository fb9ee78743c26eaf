/**
 * `ollama`: Ollama's native API at OLLAMA_HOST.
 *
 *   GET  /api/tags      → {models: [{name, model, modified_at, size, digest, details}]}
 *   POST /api/chat      {model, messages, stream, options} → NDJSON {message: {role, content}, done} …
 *                        final {done: true, done_reason, prompt_eval_count, eval_count, …}
 *   POST /api/generate  {model, prompt, raw, stream, options} → NDJSON {response, done} … (same final fields)
 *   POST /api/embed     {model, input: string[]} → {model, embeddings: number[][], prompt_eval_count}
 *
 * Options map as OpenAI → Ollama: temperature, top_p, seed, stop, max_tokens → num_predict,
 * presence/frequency_penalty. Errors: an HTTP error with {"error": "…"}, or a `{"error": "…"}` line
 * mid-stream.
 */
import {
  backendUnavailableError,
  type FinishReason,
  invalidRequestError,
  modelNotFoundError,
  OpenAIError,
  readNDJSON,
  truncateAndNormalize,
  upstreamError,
} from "@jeju/compute-sdk/openai/index";
import { errorText, upstreamFetch } from "./http.ts";
import type {
  Backend,
  BackendModel,
  ChatParams,
  CompletionParams,
  EmbedParams,
  EmbedResult,
  GenerateParams,
  GenerationEvent,
} from "./types.ts";

type OllamaTags = { models?: Array<{ name: string; model?: string; modified_at?: string }> };

type OllamaStreamLine = {
  error?: string;
  message?: { role?: string; content?: string };
  response?: string;
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
};

type OllamaEmbed = { embeddings?: number[][]; prompt_eval_count?: number; error?: string };

export type OllamaBackendOptions = { host: string };

export class OllamaBackend implements Backend {
  readonly name = "ollama";
  readonly #host: string;

  constructor(options: OllamaBackendOptions) {
    this.#host = options.host.replace(/\/+$/, "");
  }

  async listModels(signal?: AbortSignal): Promise<BackendModel[]> {
    const res = await upstreamFetch(this.name, `${this.#host}/api/tags`, { signal });
    if (!res.ok) throw upstreamError(this.name, `GET /api/tags answered ${res.status}`);
    const tags = (await res.json()) as OllamaTags;
    return (tags.models ?? []).map((m) => {
      const created = m.modified_at ? Math.floor(Date.parse(m.modified_at) / 1000) : 0;
      const aliases = m.name.endsWith(":latest") ? [m.name.slice(0, -":latest".length)] : [];
      return { id: m.name, created: Number.isFinite(created) ? created : 0, ownedBy: "ollama", aliases };
    });
  }

  chat(params: ChatParams): AsyncIterable<GenerationEvent> {
    return this.#stream("/api/chat", params, {
      model: params.model,
      messages: params.messages.map((m) => ({ role: m.role, content: m.content })),
      stream: true,
      options: options(params),
      // Ollama's structured outputs: "json", or a JSON Schema object.
      ...(params.responseFormat !== undefined
        ? { format: params.responseFormat.type === "json_object" ? "json" : params.responseFormat.schema }
        : {}),
    });
  }

  complete(params: CompletionParams): AsyncIterable<GenerationEvent> {
    return this.#stream("/api/generate", params, {
      model: params.model,
      prompt: params.prompt,
      raw: true,
      stream: true,
      options: options(params),
    });
  }

  async embed(params: EmbedParams): Promise<EmbedResult> {
    const res = await this.#post("/api/embed", { model: params.model, input: params.input }, params.abort.signal, params.model);
    const body = (await res.json()) as OllamaEmbed;
    if (!Array.isArray(body.embeddings)) throw upstreamError(this.name, body.error ?? "no embeddings in the answer");
    let embeddings = body.embeddings;
    const dims = params.dimensions;
    if (dims !== undefined) {
      const native = embeddings[0]?.length ?? 0;
      if (dims > native) {
        throw invalidRequestError(
          `Invalid 'dimensions': ${params.model} produces ${native}-dimensional embeddings; requested ${dims}.`,
          "dimensions",
          "invalid_value",
        );
      }
      embeddings = embeddings.map((v) => truncateAndNormalize(v, dims));
    }
    return { embeddings, promptTokens: body.prompt_eval_count ?? 0 };
  }

  async #post(path: string, body: unknown, signal: AbortSignal, model: string): Promise<Response> {
    const res = await upstreamFetch(this.name, `${this.#host}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    if (res.ok) return res;
    const text = await errorText(res);
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // Not JSON: keep the text.
    }
    if (res.status === 404 && /not found/i.test(message)) throw modelNotFoundError(model);
    if (res.status >= 400 && res.status < 500) throw invalidRequestError(`ollama: ${message}`);
    if (res.status === 503) throw backendUnavailableError(this.name, new Error(message));
    throw upstreamError(this.name, `${path} answered ${res.status}: ${message}`);
  }

  async *#stream(path: string, params: GenerateParams, body: unknown): AsyncGenerator<GenerationEvent> {
    const res = await this.#post(path, body, params.abort.signal, params.model);
    if (res.body === null) throw upstreamError(this.name, "empty response body");
    const lines = readNDJSON(res.body);
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await lines.next();
        } catch (err) {
          if (params.abort.aborted) throw params.abort.reason;
          if (err instanceof SyntaxError) throw upstreamError(this.name, "malformed NDJSON line", err);
          throw upstreamError(this.name, "the stream broke off", err);
        }
        if (next.done) break;
        const line = next.value as OllamaStreamLine;
        if (typeof line.error === "string") throw upstreamError(this.name, line.error);
        const text = line.message?.content ?? line.response ?? "";
        if (text !== "") yield { type: "text", text };
        if (line.done === true) {
          yield {
            type: "done",
            finishReason: finishReason(line.done_reason),
            promptTokens: line.prompt_eval_count ?? 0,
            completionTokens: line.eval_count ?? 0,
          };
          return;
        }
      }
      throw upstreamError(this.name, "the stream ended before done");
    } catch (err) {
      if (err instanceof OpenAIError || params.abort.aborted) throw err;
      throw upstreamError(this.name, "the stream failed", err);
    } finally {
      await lines.return(undefined);
    }
  }
}

function options(p: GenerateParams): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (p.temperature !== undefined) o.temperature = p.temperature;
  if (p.topP !== undefined) o.top_p = p.topP;
  if (p.seed !== undefined) o.seed = p.seed;
  if (p.stop.length > 0) o.stop = p.stop;
  if (p.maxTokens !== undefined) o.num_predict = p.maxTokens;
  if (p.presencePenalty !== undefined) o.presence_penalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) o.frequency_penalty = p.frequencyPenalty;
  return o;
}

function finishReason(doneReason: string | undefined): FinishReason {
  return doneReason === "length" ? "length" : "stop";
}
