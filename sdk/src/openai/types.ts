/** Response objects exactly as OpenAI returns them. */

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls";

export type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

/** A function call in an assistant message; `arguments` is a JSON string, as OpenAI sends it. */
export type ToolCall = { id: string; type: "function"; function: { name: string; arguments: string } };

export type ChatCompletion = {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string | null; refusal: null; tool_calls?: ToolCall[] };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: Usage;
};

export type ChatCompletionChunk = {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: "assistant"; content?: string; tool_calls?: Array<ToolCall & { index: number }> };
    logprobs: null;
    finish_reason: FinishReason | null;
  }>;
  usage?: Usage | null;
};

export type TextCompletion = {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: Array<{ text: string; index: number; logprobs: null; finish_reason: FinishReason | null }>;
  usage?: Usage | null;
};

export type Embedding = { object: "embedding"; index: number; embedding: number[] | string };

export type EmbeddingList = {
  object: "list";
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
};

export type Model = { id: string; object: "model"; created: number; owned_by: string };

export type ModelList = { object: "list"; data: Model[] };

export function usage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** Seconds since the epoch, as OpenAI's `created`. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
