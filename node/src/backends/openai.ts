/**
 * `openai`: any OpenAI-compatible upstream (vLLM, llama.cpp server, LM Studio, OpenAI itself) at
 * OPENAI_BASE_URL with OPENAI_API_KEY. Models come from the upstream's GET /models; generations always
 * stream from the upstream (SSE, `stream_options.include_usage` for the counts) and are re-emitted in
 * this node's chunks. Upstream 4xx errors pass through with their status and fields; 5xx become 502;
 * a refused connection 503.
 *
 * Tools pass through in OpenAI's shape (`tools`, `tool_choice`, history `tool_calls`/`tool_call_id`). The
 * upstream streams each call as `delta.tool_calls` fragments keyed by `index` (id and name once, the
 * `arguments` JSON text split over many chunks); they are gathered and emitted as complete `tool_call`
 * events when the upstream finishes, before `done`.
 */
import { randomUUID } from "node:crypto";
import {
  backendUnavailableError,
  type ChatCompletionChunk,
  type FinishReason,
  type Model,
  modelNotFoundError,
  OpenAIError,
  readSSE,
  type TextCompletion,
  upstreamError,
  type Usage,
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
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from "./types.ts";

export type OpenAIBackendOptions = { baseUrl: string; apiKey?: string };

type UpstreamError = { error?: { message?: string; type?: string; param?: string | null; code?: string | null } };

/** One streamed piece of a tool call, as OpenAI-compatible servers send it in `delta.tool_calls`. */
type ToolCallFragment = {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
};

export class OpenAICompatibleBackend implements Backend {
  readonly name = "openai";
  readonly #baseUrl: string;
  readonly #headers: Record<string, string>;

  constructor(options: OpenAIBackendOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#headers = { "content-type": "application/json" };
    if (options.apiKey) this.#headers.authorization = `Bearer ${options.apiKey}`;
  }

  async listModels(signal?: AbortSignal): Promise<BackendModel[]> {
    const res = await upstreamFetch(this.name, `${this.#baseUrl}/models`, { headers: this.#headers, signal });
    if (!res.ok) throw upstreamError(this.name, `GET /models answered ${res.status}`);
    const body = (await res.json()) as { data?: Model[] };
    return (body.data ?? []).map((m) => ({ id: m.id, created: m.created ?? 0, ownedBy: m.owned_by ?? "openai" }));
  }

  chat(params: ChatParams): AsyncIterable<GenerationEvent> {
    return this.#stream("/chat/completions", params, {
      model: params.model,
      messages: params.messages.map(openAIMessage),
      ...sampling(params),
      ...(params.maxTokens !== undefined ? { max_tokens: params.maxTokens } : {}),
      ...(params.responseFormat !== undefined ? { response_format: openAIResponseFormat(params.responseFormat) } : {}),
      ...(params.tools !== undefined ? { tools: params.tools.map(openAITool) } : {}),
      ...(params.toolChoice !== undefined ? { tool_choice: openAIToolChoice(params.toolChoice) } : {}),
    });
  }

  complete(params: CompletionParams): AsyncIterable<GenerationEvent> {
    return this.#stream("/completions", params, {
      model: params.model,
      prompt: params.prompt,
      ...sampling(params),
      ...(params.maxTokens !== undefined ? { max_tokens: params.maxTokens } : {}),
    });
  }

  async embed(params: EmbedParams): Promise<EmbedResult> {
    const res = await this.#post(
      "/embeddings",
      {
        model: params.model,
        input: params.input,
        encoding_format: "float",
        ...(params.dimensions !== undefined ? { dimensions: params.dimensions } : {}),
      },
      params.abort.signal,
      params.model,
    );
    const body = (await res.json()) as { data?: Array<{ index: number; embedding: number[] }>; usage?: Usage };
    if (!Array.isArray(body.data)) throw upstreamError(this.name, "no data in the embeddings answer");
    const embeddings = [...body.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    return { embeddings, promptTokens: body.usage?.prompt_tokens ?? 0 };
  }

  async #post(path: string, body: unknown, signal: AbortSignal, model: string): Promise<Response> {
    const res = await upstreamFetch(this.name, `${this.#baseUrl}${path}`, {
      method: "POST",
      headers: this.#headers,
      body: JSON.stringify(body),
      signal,
    });
    if (res.ok) return res;
    const text = await errorText(res);
    let error: UpstreamError["error"];
    try {
      error = (JSON.parse(text) as UpstreamError).error;
    } catch {
      error = undefined;
    }
    if (res.status === 404 && (error?.code === "model_not_found" || /model/i.test(error?.message ?? ""))) {
      throw modelNotFoundError(model);
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403 && res.status !== 429) {
      throw new OpenAIError(res.status, error?.message ?? (text || `upstream answered ${res.status}`), {
        type: error?.type ?? "invalid_request_error",
        param: error?.param ?? null,
        code: error?.code ?? null,
      });
    }
    if (res.status === 429 || res.status === 503) throw backendUnavailableError(this.name, new Error(text));
    throw upstreamError(this.name, `${path} answered ${res.status}${error?.message ? `: ${error.message}` : ""}`);
  }

  async *#stream(path: string, params: GenerateParams, body: Record<string, unknown>): AsyncGenerator<GenerationEvent> {
    const res = await this.#post(
      path,
      { ...body, stream: true, stream_options: { include_usage: true } },
      params.abort.signal,
      params.model,
    );
    if (res.body === null) throw upstreamError(this.name, "empty response body");
    const events = readSSE(res.body);
    let finish: FinishReason | undefined;
    let counts: Usage | undefined;
    let produced = "";
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    try {
      for (;;) {
        let next: IteratorResult<{ data: string }>;
        try {
          next = await events.next();
        } catch (err) {
          if (params.abort.aborted) throw params.abort.reason;
          throw upstreamError(this.name, "the stream broke off", err);
        }
        if (next.done) throw upstreamError(this.name, "the stream ended without [DONE]");
        const { data } = next.value;
        if (data === "[DONE]") break;
        let chunk: (ChatCompletionChunk | TextCompletion) & UpstreamError;
        try {
          chunk = JSON.parse(data) as typeof chunk;
        } catch (err) {
          throw upstreamError(this.name, "malformed SSE data", err);
        }
        if (chunk.error !== undefined) throw upstreamError(this.name, chunk.error.message ?? "error event");
        if (chunk.usage) counts = chunk.usage;
        const choice = chunk.choices?.[0];
        if (choice === undefined) continue;
        const text = "delta" in choice ? choice.delta.content : choice.text;
        if (text) {
          produced += text;
          yield { type: "text", text };
        }
        const fragments: ToolCallFragment[] | null | undefined =
          "delta" in choice ? choice.delta.tool_calls : undefined;
        if (Array.isArray(fragments)) gather(calls, fragments);
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    } catch (err) {
      if (err instanceof OpenAIError || params.abort.aborted) throw err;
      throw upstreamError(this.name, "the stream failed", err);
    } finally {
      await events.return(undefined);
    }
    for (const [, c] of [...calls].sort(([a], [b]) => a - b)) {
      if (c.name === "") throw upstreamError(this.name, "a tool call without a function name");
      produced += c.name + c.arguments;
      const call: ToolCall = {
        id: c.id || callId(),
        type: "function",
        function: { name: c.name, arguments: c.arguments || "{}" },
      };
      yield { type: "tool_call", call };
    }
    // A generation that ends in calls ends with "tool_calls" (some upstreams say "stop"); a cut-off one keeps "length".
    if (calls.size > 0 && (finish === undefined || finish === "stop")) finish = "tool_calls";
    yield {
      type: "done",
      finishReason: finish ?? "stop",
      // Upstreams without include_usage support: estimate at ~4 characters a token.
      promptTokens: counts?.prompt_tokens ?? 0,
      completionTokens: counts?.completion_tokens ?? Math.ceil(produced.length / 4),
    };
  }
}

/**
 * Adds streamed fragments to the calls gathered so far: `arguments` concatenate; `id` and `name` come
 * whole in one fragment (some servers repeat them in every fragment, so the first one stands).
 */
function gather(
  calls: Map<number, { id: string; name: string; arguments: string }>,
  fragments: ToolCallFragment[],
): void {
  fragments.forEach((f, position) => {
    const index = f.index ?? position;
    let c = calls.get(index);
    if (c === undefined) {
      c = { id: "", name: "", arguments: "" };
      calls.set(index, c);
    }
    if (f.id && c.id === "") c.id = f.id;
    if (f.function?.name && c.name === "") c.name = f.function.name;
    if (f.function?.arguments) c.arguments += f.function.arguments;
  });
}

function callId(): string {
  return `call_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
}

/** A history message in OpenAI's shape: assistant calls as `tool_calls` (content null when empty), tool results with `tool_call_id`. */
function openAIMessage(m: Message): Record<string, unknown> {
  if (m.role === "assistant" && m.toolCalls !== undefined && m.toolCalls.length > 0) {
    return { role: m.role, content: m.content === "" ? null : m.content, tool_calls: m.toolCalls };
  }
  if (m.role === "tool" && m.toolCallId !== undefined)
    return { role: m.role, content: m.content, tool_call_id: m.toolCallId };
  return { role: m.role, content: m.content };
}

function openAITool(t: ToolSpec): Record<string, unknown> {
  return {
    type: "function",
    function: {
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      ...(t.parameters !== undefined ? { parameters: t.parameters } : {}),
    },
  };
}

function openAIToolChoice(c: ToolChoice): unknown {
  return typeof c === "string" ? c : { type: "function", function: { name: c.name } };
}

function sampling(p: GenerateParams): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (p.temperature !== undefined) o.temperature = p.temperature;
  if (p.topP !== undefined) o.top_p = p.topP;
  if (p.seed !== undefined) o.seed = p.seed;
  if (p.stop.length > 0) o.stop = p.stop;
  if (p.presencePenalty !== undefined) o.presence_penalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) o.frequency_penalty = p.frequencyPenalty;
  return o;
}

/** `response_format` as OpenAI-compatible servers (OpenAI, vLLM, llama.cpp server) take it. */
function openAIResponseFormat(rf: ResponseFormat): Record<string, unknown> {
  if (rf.type === "json_object") return { type: "json_object" };
  return {
    type: "json_schema",
    json_schema: { name: rf.name, schema: rf.schema, ...(rf.strict === true ? { strict: true } : {}) },
  };
}
