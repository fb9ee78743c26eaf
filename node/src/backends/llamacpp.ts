/**
 * `llamacpp`: the embedded engine. node-llama-cpp loads the GGUF at MODEL_PATH (CUDA when a GPU is
 * present, CPU otherwise); the model id is the file's base name (`compute-tiny`).
 *
 * Chat renders the messages with the model's chat wrapper (from its GGUF template, or a general one)
 * and generates with LlamaCompletion on a context sequence, stopping on the wrapper's triggers and the
 * request's `stop`. Token counts come from the model's tokenizer: the prompt is tokenized here and
 * handed over as tokens (plus the BOS token the engine prepends), and completion tokens are counted as
 * the engine emits them. Sequences form a small pool; a request waits for a free one.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { type FinishReason, invalidRequestError, randomId, truncateAndNormalize } from "@jeju/compute-sdk/openai/index";
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  type Llama,
  LlamaCompletion,
  type LlamaCompletionResponse,
  type LlamaContext,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
  type LlamaText,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import type { Logger } from "../logger.ts";
import { AsyncQueue } from "./queue.ts";
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
} from "./types.ts";

export type LlamaCppBackendOptions = {
  modelPath: string;
  log: Logger;
  /** Context size per sequence; default: the model's training context, at most 4096. */
  contextSize?: number;
  /** Parallel sequences (requests generating at once). */
  sequences?: number;
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  /** CPU threads for generation; default 1 for models under 64 MiB, else node-llama-cpp's choice. */
  threads?: number;
  /** Tokens generated when a request sets no limit. */
  defaultMaxTokens?: number;
  /** Sampling temperature when a request sets none. */
  defaultTemperature?: number;
};

export const DEFAULT_MAX_TOKENS = 256;
/** Structured-output grammars kept per backend (JSON Schemas seen most recently). */
const MAX_GRAMMARS = 64;
const TINY_MODEL_BYTES = 64 * 2 ** 20;

/** A small FIFO pool of LlamaCompletion objects, one per context sequence. */
class SequencePool {
  readonly #free: LlamaCompletion[];
  readonly #waiters: Array<(c: LlamaCompletion) => void> = [];

  constructor(items: LlamaCompletion[]) {
    this.#free = items;
  }

  acquire(signal: AbortSignal): Promise<LlamaCompletion> {
    const item = this.#free.pop();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(take);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(signal.reason);
      };
      const take = (c: LlamaCompletion) => {
        signal.removeEventListener("abort", onAbort);
        resolve(c);
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(take);
    });
  }

  release(item: LlamaCompletion): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next(item);
    else this.#free.push(item);
  }
}

export class LlamaCppBackend implements Backend {
  readonly name = "llamacpp";
  readonly modelId: string;
  readonly llama: Llama;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly chatWrapper: ChatWrapper;
  readonly #pool: SequencePool;
  readonly #created: number;
  readonly #log: Logger;
  readonly #bos: Token | null;
  readonly #defaultMaxTokens: number;
  readonly #defaultTemperature: number;
  #embedding: Promise<LlamaEmbeddingContext> | undefined;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  #embedLock: Promise<unknown> = Promise.resolve();

  private constructor(init: {
    modelId: string;
    llama: Llama;
    model: LlamaModel;
    context: LlamaContext;
    created: number;
    log: Logger;
    defaultMaxTokens: number;
    defaultTemperature: number;
  }) {
    this.modelId = init.modelId;
    this.llama = init.llama;
    this.model = init.model;
    this.context = init.context;
    this.#created = init.created;
    this.#log = init.log;
    this.#defaultMaxTokens = init.defaultMaxTokens;
    this.#defaultTemperature = init.defaultTemperature;
    this.chatWrapper = resolveChatWrapper(init.model);
    const completions: LlamaCompletion[] = [];
    for (let i = 0; i < init.context.totalSequences; i++) {
      completions.push(new LlamaCompletion({ contextSequence: init.context.getSequence() }));
    }
    this.#pool = new SequencePool(completions);
    const t = init.model.tokens;
    this.#bos = t.shouldPrependBosToken ? t.bos : null;
  }

  /** Load the engine and the model (progress goes to the log). */
  static async load(options: LlamaCppBackendOptions): Promise<LlamaCppBackend> {
    const { log } = options;
    const file = await stat(options.modelPath);
    const modelId = path.basename(options.modelPath).replace(/\.gguf$/i, "");
    const started = performance.now();
    const llama = await getLlama({
      gpu: options.gpu ?? "auto",
      build: "never",
      progressLogs: false,
      skipDownload: true,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim();
        if (text === "") return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) log.error({ engine: "llama.cpp" }, text);
        else if (level === LlamaLogLevel.warn) log.warn({ engine: "llama.cpp" }, text);
        else log.debug({ engine: "llama.cpp" }, text);
      },
    });
    log.info({ gpu: llama.gpu, model: modelId, path: options.modelPath, bytes: file.size }, "loading model");
    let lastStep = -1;
    const model = await llama.loadModel({
      modelPath: options.modelPath,
      onLoadProgress: (progress) => {
        const step = Math.floor(progress * 4);
        if (step > lastStep) {
          lastStep = step;
          log.info({ model: modelId, progress: `${Math.round(progress * 100)}%` }, "loading model");
        }
      },
    });
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096);
    // node-llama-cpp defaults to max(4, cores) threads. For a tiny model the per-token work is so small that
    // thread hand-offs dominate, and on a busy 2-core host decoding drops from ~1,400 to ~6 tokens/s (measured
    // with node/scripts/check-model.ts), so small models get one thread unless LLAMA_THREADS says otherwise.
    const threads = options.threads ?? (file.size < TINY_MODEL_BYTES ? 1 : undefined);
    const context = await model.createContext({
      contextSize,
      sequences: options.sequences ?? 1,
      ...(threads !== undefined ? { threads } : {}),
    });
    const backend = new LlamaCppBackend({
      modelId,
      llama,
      model,
      context,
      created: Math.floor(file.mtimeMs / 1000),
      log,
      defaultMaxTokens: options.defaultMaxTokens ?? DEFAULT_MAX_TOKENS,
      defaultTemperature: options.defaultTemperature ?? 0.8,
    });
    log.info(
      {
        model: modelId,
        ms: Math.round(performance.now() - started),
        contextSize: context.contextSize,
        sequences: context.totalSequences,
        threads: context.currentThreads,
        chatWrapper: backend.chatWrapper.wrapperName,
        gpu: llama.gpu,
      },
      "model loaded",
    );
    return backend;
  }

  async listModels(): Promise<BackendModel[]> {
    return [{ id: this.modelId, created: this.#created, ownedBy: "compute" }];
  }

  /** The prompt tokens a chat is evaluated as (BOS excluded) and the wrapper's stop triggers. */
  renderChat(messages: Message[]): { tokens: Token[]; stopTriggers: LlamaText[] } {
    const history: ChatHistoryItem[] = [];
    for (const m of messages) {
      if (m.role === "system") history.push({ type: "system", text: m.content });
      else if (m.role === "assistant") history.push({ type: "model", response: [m.content] });
      else if (m.role === "tool") history.push({ type: "user", text: `Tool result:\n${m.content}` });
      else history.push({ type: "user", text: m.content });
    }
    history.push({ type: "model", response: [] });
    const state = this.chatWrapper.generateContextState({ chatHistory: history });
    let tokens = state.contextText.tokenize(this.model.tokenizer);
    // The engine prepends BOS itself; drop the one the template may carry so it is not doubled.
    if (this.#bos !== null && tokens[0] === this.#bos) tokens = tokens.slice(1);
    return { tokens, stopTriggers: state.stopGenerationTriggers };
  }

  /** Prompt tokens for a raw completion, tokenized as the engine would (BOS excluded). */
  tokenizePrompt(prompt: string): Token[] {
    return this.model.tokenize(prompt, false, this.#bos !== null ? "trimLeadingSpace" : undefined);
  }

  /** Prompt tokens a chat counts as in `usage` (the rendered template plus the BOS the engine adds). */
  chatPromptTokens(messages: Message[]): number {
    return this.renderChat(messages).tokens.length + (this.#bos !== null ? 1 : 0);
  }

  /** Prompt tokens a raw completion counts as in `usage`. */
  completionPromptTokens(prompt: string): number {
    return this.tokenizePrompt(prompt).length + (this.#bos !== null ? 1 : 0);
  }

  async *chat(params: ChatParams): AsyncGenerator<GenerationEvent> {
    const { tokens, stopTriggers } = this.renderChat(params.messages);
    const call = forcedCallSchema(params);
    if (call !== undefined) {
      yield* this.#callTool(tokens, stopTriggers, params, call);
      return;
    }
    const grammar = params.responseFormat !== undefined ? await this.#grammar(params.responseFormat) : undefined;
    yield* this.#generate(tokens, stopTriggers, params, "messages", grammar);
  }

  /**
   * A required (or named) tool call: decoding is held by a grammar to `{"name": <a tool>, "arguments": <its
   * parameters>}`, and the result is returned as a function call. With tool_choice "auto" the model answers in
   * text (its choice: this engine does not prompt models with tool descriptions).
   */
  async *#callTool(
    tokens: Token[],
    stopTriggers: LlamaText[],
    params: ChatParams,
    schema: Record<string, unknown>,
  ): AsyncGenerator<GenerationEvent> {
    const grammar = await this.#grammar({ type: "json_schema", name: "tool_call", schema });
    let text = "";
    for await (const event of this.#generate(tokens, stopTriggers, params, "messages", grammar)) {
      if (event.type === "text") text += event.text;
      else if (event.type === "done") {
        let parsed: { name?: unknown; arguments?: unknown } | undefined;
        try {
          parsed = JSON.parse(text) as { name?: unknown; arguments?: unknown };
        } catch {
          parsed = undefined;
        }
        if (parsed === undefined || typeof parsed.name !== "string") {
          // Cut off by max_tokens before the call was complete: say what was produced, as text.
          if (text !== "") yield { type: "text", text };
          yield event;
          return;
        }
        const call: ToolCall = {
          id: `call_${randomId("", 24)}`,
          type: "function",
          function: { name: parsed.name, arguments: JSON.stringify(parsed.arguments ?? {}) },
        };
        yield { type: "tool_call", call };
        yield { ...event, finishReason: "tool_calls" };
        return;
      }
    }
  }

  /**
   * The grammar that holds generation to JSON (`json_object`) or to a JSON Schema (`json_schema`), built by
   * node-llama-cpp (GBNF) and kept for reuse: a handful of schemas are typically used over and over.
   */
  #grammar(format: ResponseFormat): Promise<LlamaGrammar> {
    const key = format.type === "json_object" ? "json" : JSON.stringify(format.schema);
    let grammar = this.#grammars.get(key);
    if (grammar === undefined) {
      const made =
        format.type === "json_object"
          ? this.llama.getGrammarFor("json")
          : // Any client-supplied schema: node-llama-cpp's generic type only fits literal schemas.
            (this.llama.createGrammarForJsonSchema.bind(this.llama) as (schema: unknown) => Promise<LlamaGrammar>)(
              format.schema,
            );
      grammar = made.catch((err: unknown) => {
        this.#grammars.delete(key);
        throw invalidRequestError(
          `Invalid 'response_format.json_schema.schema': ${err instanceof Error ? err.message : String(err)}`,
          "response_format.json_schema.schema",
          "invalid_json_schema",
        );
      });
      if (this.#grammars.size >= MAX_GRAMMARS) {
        const oldest = this.#grammars.keys().next().value;
        if (oldest !== undefined) this.#grammars.delete(oldest);
      }
      this.#grammars.set(key, grammar);
    }
    return grammar;
  }

  async *complete(params: CompletionParams): AsyncGenerator<GenerationEvent> {
    yield* this.#generate(this.tokenizePrompt(params.prompt), [], params, "prompt");
  }

  #generate(
    tokens: Token[],
    stopTriggers: LlamaText[],
    params: GenerateParams,
    promptParam: string,
    grammar?: LlamaGrammar,
  ): AsyncIterable<GenerationEvent> {
    const promptTokens = tokens.length + (this.#bos !== null ? 1 : 0);
    const contextSize = this.context.contextSize;
    if (promptTokens >= contextSize) {
      throw invalidRequestError(
        `This model's maximum context length is ${contextSize} tokens. However, your ${promptParam} resulted in ${promptTokens} tokens.`,
        promptParam,
        "context_length_exceeded",
      );
    }
    const maxTokens = Math.min(params.maxTokens ?? this.#defaultMaxTokens, contextSize - promptTokens);
    const local = new AbortController();
    const signal = params.abort.signal;
    const onAbort = () => local.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    const queue = new AsyncQueue<GenerationEvent>(() => local.abort(new Error("generation closed by consumer")));
    const cleanup = () => signal.removeEventListener("abort", onAbort);

    if (maxTokens <= 0) {
      queue.push({ type: "done", finishReason: "length", promptTokens, completionTokens: 0 });
      queue.end();
      cleanup();
      return queue;
    }

    const customStopTriggers: Array<LlamaText | string> = [...stopTriggers];
    for (const s of params.stop) if (s !== "") customStopTriggers.push(s);
    const penalties =
      params.presencePenalty !== undefined || params.frequencyPenalty !== undefined
        ? { presencePenalty: params.presencePenalty, frequencyPenalty: params.frequencyPenalty }
        : undefined;

    void (async () => {
      let completionTokens = 0;
      const completion = await this.#pool.acquire(local.signal);
      try {
        const result: LlamaCompletionResponse = await completion.generateCompletionWithMeta(tokens, {
          signal: local.signal,
          maxTokens,
          temperature: params.temperature ?? this.#defaultTemperature,
          ...(params.topP !== undefined ? { topP: params.topP } : {}),
          ...(params.seed !== undefined ? { seed: params.seed } : {}),
          ...(penalties !== undefined ? { repeatPenalty: penalties } : {}),
          customStopTriggers,
          ...(grammar !== undefined ? { grammar } : {}),
          disableContextShift: true,
          onToken: (t) => {
            completionTokens += t.length;
          },
          onTextChunk: (text) => {
            if (text !== "") queue.push({ type: "text", text });
          },
        });
        queue.push({ type: "done", finishReason: finishReason(result), promptTokens, completionTokens });
        queue.end();
      } finally {
        this.#pool.release(completion);
      }
    })()
      .catch((err: unknown) => queue.fail(local.signal.aborted ? local.signal.reason : err))
      .finally(cleanup);

    return queue;
  }

  async embed(params: EmbedParams): Promise<EmbedResult> {
    const native = this.model.embeddingVectorSize;
    const dims = params.dimensions ?? native;
    if (dims > native) {
      throw invalidRequestError(
        `Invalid 'dimensions': ${this.modelId} produces ${native}-dimensional embeddings; requested ${dims}.`,
        "dimensions",
        "invalid_value",
      );
    }
    const ctx = await this.#embeddingContext();
    const run = this.#embedLock.then(async () => {
      const embeddings: number[][] = [];
      let promptTokens = 0;
      for (const [i, text] of params.input.entries()) {
        if (params.abort.aborted) throw params.abort.reason;
        const length = ctx.calculateInputLength(text);
        if (length >= this.context.contextSize) {
          const param = params.input.length === 1 ? "input" : `input.[${i}]`;
          throw invalidRequestError(
            `This model's maximum context length is ${this.context.contextSize} tokens. However, ${param} resulted in ${length} tokens.`,
            param,
            "context_length_exceeded",
          );
        }
        promptTokens += length;
        const { vector } = await ctx.getEmbeddingFor(text);
        embeddings.push(truncateAndNormalize(vector, dims));
      }
      return { embeddings, promptTokens };
    });
    this.#embedLock = run.catch(() => {});
    return run;
  }

  #embeddingContext(): Promise<LlamaEmbeddingContext> {
    this.#embedding ??= this.model
      .createEmbeddingContext({ contextSize: this.context.contextSize, threads: this.context.currentThreads })
      .catch((err: unknown) => {
        this.#embedding = undefined;
        throw err;
      });
    return this.#embedding;
  }

  async close(): Promise<void> {
    try {
      const emb = await this.#embedding?.catch(() => undefined);
      await emb?.dispose();
      await this.context.dispose();
      await this.model.dispose();
      await this.llama.dispose();
    } catch (err) {
      this.#log.warn({ err }, "llama dispose failed");
    }
  }
}

function finishReason(result: LlamaCompletionResponse): FinishReason {
  return result.metadata.stopReason === "maxTokens" ? "length" : "stop";
}

/** The JSON Schema a forced tool call must follow, or undefined when the model may answer freely. */
function forcedCallSchema(params: ChatParams): Record<string, unknown> | undefined {
  const { tools, toolChoice } = params;
  if (tools === undefined || tools.length === 0 || toolChoice === undefined || toolChoice === "auto") return undefined;
  const chosen = typeof toolChoice === "object" ? tools.filter((t) => t.name === toolChoice.name) : tools;
  const shapes = chosen.map((t) => ({
    type: "object",
    properties: { name: { const: t.name }, arguments: t.parameters ?? { type: "object", properties: {} } },
    required: ["name", "arguments"],
  }));
  if (shapes.length === 0) return undefined;
  return shapes.length === 1 ? (shapes[0] as Record<string, unknown>) : { oneOf: shapes };
}
