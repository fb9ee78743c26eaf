/**
 * The contract every inference backend implements. Routes speak OpenAI; backends speak this: one
 * generation per call (the route fans out `n`), text deltas as an async iterable ending in one `done`
 * event with the finish reason and token counts, and an AbortSignal that stops generation.
 */
import type { FinishReason } from "@jeju/compute-sdk/openai/index";

export type BackendModel = {
  /** Model id as clients name it. */
  id: string;
  /** Unix seconds. */
  created: number;
  ownedBy: string;
  /** Other names that route to this model when nothing else claims them (`llama2` for `llama2:latest`). */
  aliases?: string[];
};

export type Message = { role: "system" | "user" | "assistant" | "tool"; content: string };

/**
 * A request's cancellation. `aborted`/`reason` are cheap to read; `signal` is a real AbortSignal
 * (made on first use) for fetch and the engine.
 */
export interface AbortHandle {
  readonly aborted: boolean;
  readonly reason: unknown;
  readonly signal: AbortSignal;
}

export type GenerateParams = {
  model: string;
  /** Tokens to generate at most; undefined lets the backend decide. */
  maxTokens: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  stop: string[];
  seed: number | undefined;
  presencePenalty: number | undefined;
  frequencyPenalty: number | undefined;
  /** Which of the `n` choices this is (0-based). */
  choiceIndex: number;
  abort: AbortHandle;
};

/** Structured output (OpenAI `response_format`): any JSON object, or JSON following a JSON Schema. */
export type ResponseFormat =
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: Record<string, unknown>; strict?: boolean };

export type ChatParams = GenerateParams & { messages: Message[]; responseFormat?: ResponseFormat };
export type CompletionParams = GenerateParams & { prompt: string };

export type GenerationDone = {
  type: "done";
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
};

export type GenerationEvent = { type: "text"; text: string } | GenerationDone;

/** A whole generation, for the optional non-streaming fast path. */
export type GenerationResult = Omit<GenerationDone, "type"> & { text: string };

export type EmbedParams = {
  model: string;
  input: string[];
  /** Requested vector length; the backend throws a 400 if the model cannot honour it. */
  dimensions: number | undefined;
  abort: AbortHandle;
};

export type EmbedResult = { embeddings: number[][]; promptTokens: number };

export interface Backend {
  /** Short name used in logs and errors: `mock`, `ollama`, `openai`, `llamacpp`. */
  readonly name: string;
  listModels(signal?: AbortSignal): Promise<BackendModel[]>;
  chat(params: ChatParams): AsyncIterable<GenerationEvent>;
  complete(params: CompletionParams): AsyncIterable<GenerationEvent>;
  embed(params: EmbedParams): Promise<EmbedResult>;
  /**
   * Optional non-streaming path: the whole generation at once. Backends that can answer without
   * streaming (the mock) skip the per-event async overhead; routes fall back to collecting `chat`.
   */
  chatOnce?(params: ChatParams): Promise<GenerationResult>;
  completeOnce?(params: CompletionParams): Promise<GenerationResult>;
  /** Release resources (models, sockets). */
  close?(): Promise<void>;
}
