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
 *
 * Tools: `tools` in OpenAI's shape ([{type: "function", function: {name, description, parameters}}]);
 * history calls as {role: "assistant", tool_calls: [{function: {name, arguments: {…}}}]} (arguments an
 * object, not JSON text), results as {role: "tool", content, tool_name}. Ollama answers with
 * `message.tool_calls` (whole calls, usually in one line); each becomes a `tool_call` event with the
 * arguments as JSON text and a fresh `call_…` id, and the finish reason becomes "tool_calls". Ollama has
 * no tool_choice: the model decides whether to call. For a named choice only that tool is sent (so no
 * other can be called); for "required" all tools are sent and a call is likely but not forced.
 */
import { randomUUID } from "node:crypto";
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
  Message,
  ToolCall,
  ToolSpec,
} from "./types.ts";

type OllamaTags = { models?: Array<{ name: string; model?: string; modified_at?: string }> };

type OllamaStreamLine = {
  error?: string;
  message?: { role?: string; content?: string; tool_calls?: OllamaToolCall[] | null };
  response?: string;
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
};

type OllamaToolCall = { id?: string; function?: { name?: string; arguments?: Record<string, unknown> | null } };

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

  async *chat(params: ChatParams): AsyncGenerator<GenerationEvent> {
    // Built here, inside the generator, so a bad history (arguments that are not a JSON object) surfaces
    // as the stream's error like every other failure.
    const tools = ollamaTools(params);
    yield* this.#stream("/api/chat", params, {
      model: params.model,
      messages: ollamaMessages(params.messages),
      ...(tools !== undefined ? { tools } : {}),
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
    const res = await this.#post(
      "/api/embed",
      { model: params.model, input: params.input },
      params.abort.signal,
      params.model,
    );
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
    let called = false;
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
        for (const c of line.message?.tool_calls ?? []) {
          const name = c.function?.name;
          if (!name) throw upstreamError(this.name, "a tool call without a function name");
          const call: ToolCall = {
            id: c.id || callId(),
            type: "function",
            function: { name, arguments: JSON.stringify(c.function?.arguments ?? {}) },
          };
          called = true;
          yield { type: "tool_call", call };
        }
        if (line.done === true) {
          yield {
            type: "done",
            finishReason: called ? "tool_calls" : finishReason(line.done_reason),
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

/** `tools` for /api/chat: all of them, or only the named one when tool_choice names one. */
function ollamaTools(p: ChatParams): Array<{ type: "function"; function: ToolSpec }> | undefined {
  if (p.tools === undefined || p.tools.length === 0) return undefined;
  const choice = p.toolChoice;
  const named = typeof choice === "object" ? p.tools.filter((t) => t.name === choice.name) : [];
  return (named.length > 0 ? named : p.tools).map((t) => ({
    type: "function",
    function: {
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      ...(t.parameters !== undefined ? { parameters: t.parameters } : {}),
    },
  }));
}

/** History in Ollama's shape: calls with object arguments; tool results name the function they answer. */
function ollamaMessages(messages: Message[]): Array<Record<string, unknown>> {
  const names = new Map<string, string>();
  return messages.map((m, i) => {
    if (m.role === "assistant" && m.toolCalls !== undefined && m.toolCalls.length > 0) {
      const toolCalls = m.toolCalls.map((c) => {
        names.set(c.id, c.function.name);
        return { function: { name: c.function.name, arguments: argumentsObject(c.function.arguments, i) } };
      });
      return { role: m.role, content: m.content, tool_calls: toolCalls };
    }
    const toolName = m.role === "tool" && m.toolCallId !== undefined ? names.get(m.toolCallId) : undefined;
    return { role: m.role, content: m.content, ...(toolName !== undefined ? { tool_name: toolName } : {}) };
  });
}

function argumentsObject(text: string, messageIndex: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidRequestError(
      `Invalid 'messages[${messageIndex}].tool_calls': the arguments of a call must be a JSON object for ollama models.`,
      "messages",
      "invalid_value",
    );
  }
  return value as Record<string, unknown>;
}

function callId(): string {
  return `call_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
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
