/**
 * The contract every inference backend implements. Routes speak OpenAI; backends speak this: one
 * generation per call (the route fans out `n`), text deltas as an async iterable ending in one `done`
 * event with the finish reason and token counts, and an AbortSignal that stops generation.
 */
import type { FinishReason, ToolCall } from "@jeju/compute-sdk/openai/index";

export type { ToolCall };

export type BackendModel = {
  /** Model id as clients name it. */
  id: string;
  /** Unix seconds. */
  created: number;
  ownedBy: string;
  /** Other names that route to this model when nothing else claims them (`llama2` for `llama2:latest`). */
  aliases?: string[];
};

export type Message = {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** An assistant turn's function calls (history of a tool-using conversation). */
  toolCalls?: ToolCall[];
  /** A tool turn: the call it answers. */
  toolCallId?: string;
};

/** A function the model may call. */
export type ToolSpec = { name: string; description?: string; parameters?: Record<string, unknown> };

/** `auto`: the model decides; `required`: it must call one; `{name}`: it must call that one. */
export type ToolChoice = "auto" | "required" | { name: string };

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

export type ChatParams = GenerateParams & {
  messages: Message[];
  responseFormat?: ResponseFormat;
  /** Functions the model may call (absent when the request has none, or tool_choice "none"). */
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
};
export type CompletionParams = GenerateParams & { prompt: string };

export type GenerationDone = {
  type: "done";
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
};

/** A complete function call (backends that stream call arguments gather them first). */
export type GenerationToolCall = { type: "tool_call"; call: ToolCall };

export type GenerationEvent = { type: "text"; text: string } | GenerationToolCall | GenerationDone;

/** A whole generation, for the optional non-streaming fast path. */
export type GenerationResult = Omit<GenerationDone, "type"> & { text: string; toolCalls?: ToolCall[] };

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
