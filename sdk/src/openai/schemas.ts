/**
 * Zod schemas for the OpenAI request bodies the node and the gateway accept.
 *
 * Unknown fields are dropped (OpenAI clients send many optional ones); known fields are checked with
 * OpenAI's own bounds so a bad value fails here with a 400 that names the field. Chat features that would
 * change what the answer means and are not implemented (logprobs, legacy functions) are refused by name, not
 * dropped.
 */
import { z } from "zod";
import { invalidRequestError, type OpenAIError } from "./errors.ts";

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

const textPart = z.object({ type: z.literal("text"), text: z.string() });

/** A tool call the assistant made (in a conversation's history). */
export const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

export const chatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(textPart)]).nullish(),
  name: z.string().optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z.array(toolCallSchema).optional(),
});

/** OpenAI's rule for function and JSON Schema names. */
const nameSchema = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "a-z, A-Z, 0-9, underscores and dashes, at most 64");

/** A function the model may call (OpenAI `tools`). */
export const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: nameSchema,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

export const toolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string().min(1) }) }),
]);

export const stopSchema = z.union([z.string(), z.array(z.string()).max(4)]);

export const streamOptionsSchema = z.object({ include_usage: z.boolean().nullish() });

/** Sampling fields shared by chat and text completions. */
const samplingFields = {
  model: z.string().min(1),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  stop: nullish(stopSchema),
  seed: nullish(z.number().int()),
  n: nullish(z.number().int().min(1).max(128)),
  stream: nullish(z.boolean()),
  stream_options: nullish(streamOptionsSchema),
  presence_penalty: nullish(z.number().min(-2).max(2)),
  frequency_penalty: nullish(z.number().min(-2).max(2)),
  user: z.string().optional(),
};

/** OpenAI's structured outputs: plain text, any JSON object, or JSON that follows a schema. */
export const responseFormatSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: nameSchema,
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const chatCompletionRequestSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1),
  response_format: nullish(responseFormatSchema),
  tools: nullish(z.array(toolSchema).max(128)),
  tool_choice: nullish(toolChoiceSchema),
  parallel_tool_calls: nullish(z.boolean()),
  max_tokens: nullish(z.number().int().min(1)),
  max_completion_tokens: nullish(z.number().int().min(1)),
});

export const completionRequestSchema = z.object({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1)]),
  max_tokens: nullish(z.number().int().min(0)),
  echo: nullish(z.boolean()),
  suffix: nullish(z.string()),
});

export const embeddingRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: nullish(z.enum(["float", "base64"])),
  dimensions: nullish(z.number().int().min(1)),
  user: z.string().optional(),
});

export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

/** Text of a message: a string, or the concatenated text parts. */
export function messageText(message: ChatMessage): string {
  const { content } = message;
  if (content == null) return "";
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) text += part.text;
  return text;
}

/** `stop` as a list. */
export function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop == null) return [];
  return typeof stop === "string" ? [stop] : stop;
}

/** OpenAI's path notation for a parameter: `messages.[0].content`. */
export function formatParam(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    const part = typeof key === "number" ? `[${key}]` : String(key);
    out = out === "" ? part : `${out}.${part}`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Parameters OpenAI types as integers (its messages say "integer" for these, "decimal" for the rest). */
const INTEGER_PARAMS = new Set([
  "n",
  "max_tokens",
  "max_completion_tokens",
  "seed",
  "dimensions",
  "logprobs",
  "top_logprobs",
]);

/** Turn the first zod issue into an OpenAI 400 that names the parameter. */
export function zodToOpenAIError(error: z.ZodError, input: unknown): OpenAIError {
  const issue = error.issues[0];
  if (issue === undefined) return invalidRequestError("Invalid request body.");
  const param = issue.path.length > 0 ? formatParam(issue.path) : null;
  const shown = param ?? "body";
  if (
    (issue.code === "invalid_type" || issue.code === "invalid_union") &&
    param !== null &&
    valueAt(input, issue.path) === undefined
  ) {
    return invalidRequestError(`Missing required parameter: '${shown}'.`, param, "missing_required_parameter");
  }
  const kind = INTEGER_PARAMS.has(String(issue.path.at(-1))) ? "integer" : "decimal";
  const got = JSON.stringify(valueAt(input, issue.path));
  if (issue.code === "too_small" && issue.origin === "number") {
    return invalidRequestError(
      `Invalid '${shown}': ${kind} below minimum value. Expected a value >= ${String(issue.minimum)}, but got ${got} instead.`,
      param,
      `${kind}_below_min_value`,
    );
  }
  if (issue.code === "too_big" && issue.origin === "number") {
    return invalidRequestError(
      `Invalid '${shown}': ${kind} above maximum value. Expected a value <= ${String(issue.maximum)}, but got ${got} instead.`,
      param,
      `${kind}_above_max_value`,
    );
  }
  if (issue.code === "too_small" && issue.origin === "array") {
    return invalidRequestError(
      `Invalid '${shown}': empty array. Expected an array with minimum length ${String(issue.minimum)}, but got an empty array instead.`,
      param,
      "empty_array",
    );
  }
  if (issue.code === "too_big" && issue.origin === "array") {
    return invalidRequestError(
      `Invalid '${shown}': array too long. Expected an array with maximum length ${String(issue.maximum)}.`,
      param,
      "array_above_max_length",
    );
  }
  if (issue.code === "invalid_type" || issue.code === "invalid_union") {
    return invalidRequestError(`Invalid type for '${shown}': ${issue.message}.`, param, "invalid_type");
  }
  return invalidRequestError(`Invalid value for '${shown}': ${issue.message}.`, param, "invalid_value");
}

/** Parse a request body with a schema, throwing an OpenAI 400 on failure. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw zodToOpenAIError(result.error, input);
  return result.data;
}

const CHAT_ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const nullishNum = (v: unknown, min: number, max: number, int: boolean): boolean =>
  v == null ||
  (typeof v === "number" && Number.isFinite(v) && v >= min && v <= max && (!int || Number.isSafeInteger(v)));

/**
 * The common valid chat body, checked by hand (zod costs several µs a request): string contents, the
 * usual sampling fields. Returns what `chatCompletionRequestSchema` would, or undefined when the body
 * has anything else (then zod decides, and words any error).
 */
function fastChatRequest(input: unknown): ChatCompletionRequest | undefined {
  if (!isObj(input)) return undefined;
  const out: Record<string, unknown> = {};
  for (const key in input) {
    if (!Object.hasOwn(input, key)) return undefined;
    const v = input[key];
    switch (key) {
      case "model":
        if (typeof v !== "string" || v.length === 0) return undefined;
        break;
      case "messages": {
        if (!Array.isArray(v) || v.length === 0) return undefined;
        const messages: ChatMessage[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const m: unknown = v[i];
          if (!isObj(m)) return undefined;
          const msg: Record<string, unknown> = {};
          for (const mk in m) {
            if (!Object.hasOwn(m, mk)) return undefined;
            const mv = m[mk];
            if (mk === "role") {
              if (typeof mv !== "string" || !CHAT_ROLES.has(mv)) return undefined;
            } else if (mk === "content") {
              if (mv !== null && typeof mv !== "string") return undefined;
            } else if (mk === "name" || mk === "tool_call_id") {
              if (typeof mv !== "string") return undefined;
            } else return undefined;
            msg[mk] = mv;
          }
          if (msg.role === undefined) return undefined;
          messages[i] = msg as ChatMessage;
        }
        out.messages = messages;
        continue;
      }
      case "temperature":
        if (!nullishNum(v, 0, 2, false)) return undefined;
        break;
      case "top_p":
        if (!nullishNum(v, 0, 1, false)) return undefined;
        break;
      case "presence_penalty":
      case "frequency_penalty":
        if (!nullishNum(v, -2, 2, false)) return undefined;
        break;
      case "n":
        if (!nullishNum(v, 1, 128, true)) return undefined;
        break;
      case "max_tokens":
      case "max_completion_tokens":
        if (!nullishNum(v, 1, Number.MAX_SAFE_INTEGER, true)) return undefined;
        break;
      case "stream":
        if (v != null && typeof v !== "boolean") return undefined;
        break;
      case "user":
        if (typeof v !== "string") return undefined;
        break;
      default:
        return undefined;
    }
    out[key] = v;
  }
  if (out.model === undefined || out.messages === undefined) return undefined;
  return out as ChatCompletionRequest;
}

/** `parseRequest(chatCompletionRequestSchema, input)`, with a fast path for the common valid body. */
export function parseChatRequest(input: unknown): ChatCompletionRequest {
  refuseUnsupportedChatFields(input);
  return fastChatRequest(input) ?? parseRequest(chatCompletionRequestSchema, input);
}

/**
 * Chat features the node does not implement are refused with a 400 naming the field, rather than dropped:
 * a client that asks for logprobs or the legacy `functions` and silently gets none would be misled. Absent,
 * null, empty and "off" values pass.
 */
export function refuseUnsupportedChatFields(input: unknown): void {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return;
  const b = input as Record<string, unknown>;
  const refuse = (param: string, what: string) => {
    throw invalidRequestError(
      `${what} is not supported by this node; remove '${param}' from the request.`,
      param,
      "unsupported_parameter",
    );
  };
  if (Array.isArray(b.functions) && b.functions.length > 0)
    refuse("functions", "The legacy 'functions' parameter (use 'tools')");
  if (b.logprobs === true) refuse("logprobs", "Returning log probabilities");
}
