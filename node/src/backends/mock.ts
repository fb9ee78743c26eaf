/**
 * `mock`: the deterministic test backend. The same request always gets the same answer (a hash of the
 * request seeds the generator), it streams one word per token, honours `max_tokens` and `stop`, and embeds
 * text as hashed bags of words so that sentences sharing words score closer. Counters let tests observe
 * that a client disconnect stopped generation.
 */
import { invalidRequestError, truncateAndNormalize } from "@jeju/compute-sdk/openai/index";
import type {
  Backend,
  BackendModel,
  ChatParams,
  CompletionParams,
  EmbedParams,
  EmbedResult,
  GenerateParams,
  GenerationEvent,
  GenerationResult,
  Message,
  ResponseFormat,
  ToolCall,
} from "./types.ts";

export const MOCK_MODEL = "mock-model";
export const MOCK_EMBEDDING_DIMENSIONS = 256;
/** 2024-01-01T00:00:00Z: a fixed `created` keeps `/v1/models` deterministic. */
const MOCK_CREATED = 1_704_067_200;

const WORDS = (
  "the a compute node answers every request with care and speed while tokens flow from model to client " +
  "through streams of light data moves across the network gpu memory holds weights inference runs fast " +
  "providers stake ether renters pay usdc sessions open and close blocks confirm each step quietly"
).split(" ");

export type MockBackendOptions = {
  /** Delay between streamed tokens (ms); 0 streams as fast as the event loop allows. */
  tokenDelayMs?: number;
  /** Extra names the mock model answers to. */
  aliases?: string[];
};

type Plan = {
  tokens: readonly string[];
  text: string;
  finishReason: "stop" | "length" | "tool_calls";
  /** Set when the mock answers with function calls instead of text. */
  toolCalls?: ToolCall[];
  /** Tokens a tool call counts as (name and arguments, by the mock's tokenizer). */
  callTokens?: number;
};

/** Answers remembered (the mock is deterministic, so a repeated request costs a map lookup). */
const MEMO_SIZE = 1024;

export type MockStats = { started: number; completed: number; aborted: number; tokens: number };

/** FNV-1a, 32 bits. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** xorshift32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let s = seed || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

/** ASCII word characters ([A-Za-z0-9_]); anything else non-space is a token of its own. */
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

/** The mock's tokenizer: words and punctuation marks (like /\w+|[^\w\s]/g, without allocating). */
export function countMockTokens(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isWordChar(c)) {
      if (!inWord) n++;
      inWord = true;
    } else {
      inWord = false;
      if (!isSpace(c)) n++;
    }
  }
  return n;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * A memoised answer and the request it answers. Lookups hash the request's fields in place (no key string
 * is built per request) and confirm a hit by comparing those fields, so a collision can never return
 * another request's answer.
 */
type MemoEntry = {
  model: string;
  temperature: number | undefined;
  topP: number | undefined;
  seed: number | undefined;
  choiceIndex: number;
  maxTokens: number | undefined;
  stop: readonly string[];
  /** The chat's messages, or undefined for a text completion. */
  messages: readonly Message[] | undefined;
  /** The completion's prompt ("" for a chat). */
  prompt: string;
  /** JSON of the chat's response_format ("" for plain text). */
  format: string;
  promptTokens: number;
  plan: Plan;
};

export class MockBackend implements Backend {
  readonly name = "mock";
  readonly stats: MockStats = { started: 0, completed: 0, aborted: 0, tokens: 0 };
  readonly #tokenDelayMs: number;
  readonly #aliases: string[];
  /** request hash → the answers with that hash (almost always one). */
  readonly #memo = new Map<number, MemoEntry[]>();
  #memoCount = 0;

  constructor(options: MockBackendOptions = {}) {
    this.#tokenDelayMs = options.tokenDelayMs ?? 0;
    this.#aliases = options.aliases ?? [];
  }

  async listModels(): Promise<BackendModel[]> {
    return [{ id: MOCK_MODEL, created: MOCK_CREATED, ownedBy: "compute", aliases: this.#aliases }];
  }

  chat(params: ChatParams): AsyncIterable<GenerationEvent> {
    return this.#generate(this.#entry(params, params.messages, ""), params);
  }

  complete(params: CompletionParams): AsyncIterable<GenerationEvent> {
    return this.#generate(this.#entry(params, undefined, params.prompt), params);
  }

  chatOnce(params: ChatParams): Promise<GenerationResult> {
    return this.#once(params, params.messages, "");
  }

  completeOnce(params: CompletionParams): Promise<GenerationResult> {
    return this.#once(params, undefined, params.prompt);
  }

  /** The memoised plan for a request (the mock is deterministic), computed on first sight. */
  #entry(params: GenerateParams, messages: readonly Message[] | undefined, prompt: string): MemoEntry {
    let h = fnv1a(params.model, params.choiceIndex + 1);
    h = sampleHash(prompt, h);
    if (messages !== undefined) for (const m of messages) h = sampleHash(m.content, fnv1a(m.role, h));
    const bucket = this.#memo.get(h);
    if (bucket !== undefined) {
      for (const e of bucket) if (sameRequest(e, params, messages, prompt)) return e;
    }
    const entry = this.#newEntry(params, messages, prompt);
    if (this.#memoCount >= MEMO_SIZE) {
      this.#memo.clear();
      this.#memoCount = 0;
    }
    const current = this.#memo.get(h);
    if (current === undefined) this.#memo.set(h, [entry]);
    else current.push(entry);
    this.#memoCount++;
    return entry;
  }

  #newEntry(params: GenerateParams, messages: readonly Message[] | undefined, prompt: string): MemoEntry {
    const { key, promptTokens } =
      messages !== undefined ? chatKey(messages) : { key: prompt, promptTokens: countMockTokens(prompt) };
    const format = (params as Partial<ChatParams>).responseFormat;
    const calls = messages !== undefined ? this.toolCalls(key, params as ChatParams) : undefined;
    if (calls !== undefined) {
      const callTokens = calls.reduce(
        (n, c) => n + countMockTokens(c.function.name) + countMockTokens(c.function.arguments),
        0,
      );
      return this.#memoEntry(params, messages, prompt, promptTokens, {
        tokens: [],
        text: "",
        finishReason: "tool_calls",
        toolCalls: calls,
        callTokens,
      });
    }
    let tokens = format === undefined ? this.answerTokens(key, params) : this.jsonTokens(key, params, format);
    let finishReason: "stop" | "length" = "stop";
    if (params.stop.length > 0) tokens = applyStop(tokens, params.stop);
    if (params.maxTokens !== undefined && tokens.length > params.maxTokens) {
      tokens = tokens.slice(0, params.maxTokens);
      finishReason = "length";
    }
    return this.#memoEntry(params, messages, prompt, promptTokens, { tokens, text: tokens.join(""), finishReason });
  }

  #memoEntry(
    params: GenerateParams,
    messages: readonly Message[] | undefined,
    prompt: string,
    promptTokens: number,
    plan: Plan,
  ): MemoEntry {
    return {
      model: params.model,
      temperature: params.temperature,
      topP: params.topP,
      seed: params.seed,
      choiceIndex: params.choiceIndex,
      maxTokens: params.maxTokens,
      stop: [...params.stop],
      messages: messages?.map((m) => ({ role: m.role, content: m.content })),
      prompt,
      format: formatKey(params),
      promptTokens,
      plan,
    };
  }

  /**
   * The mock's function calling: offered tools and no tool result yet in the conversation → one call, to the
   * named tool, else the first one, with arguments that are an instance of the tool's JSON Schema. Once a
   * tool has answered (the last message is a tool turn) it answers in text, so agent loops end.
   */
  toolCalls(key: string, params: ChatParams): ToolCall[] | undefined {
    const tools = params.tools;
    if (tools === undefined || tools.length === 0) return undefined;
    if (params.messages.at(-1)?.role === "tool") return undefined;
    const choice = params.toolChoice;
    const tool = typeof choice === "object" ? tools.find((t) => t.name === choice.name) : tools[0];
    if (tool === undefined) return undefined;
    const rand = prng(fnv1a(`tool|${key}|${tool.name}|${params.choiceIndex}|${params.seed ?? ""}`));
    const args = exampleOf(
      tool.parameters ?? { type: "object", properties: {} },
      rand,
      this.answerTokens(key, params),
      0,
    );
    const id = `call_${fnv1a(`${key}|${tool.name}|${params.choiceIndex}`).toString(36)}${Math.floor(rand() * 2 ** 32).toString(36)}`;
    return [{ id, type: "function", function: { name: tool.name, arguments: JSON.stringify(args ?? {}) } }];
  }

  #once(params: GenerateParams, messages: readonly Message[] | undefined, prompt: string): Promise<GenerationResult> {
    if (this.#tokenDelayMs > 0) return this.#paced(this.#entry(params, messages, prompt), params);
    this.stats.started++;
    if (params.abort.aborted) {
      this.stats.aborted++;
      return Promise.reject(params.abort.reason);
    }
    const { plan, promptTokens } = this.#entry(params, messages, prompt);
    this.stats.tokens += plan.tokens.length;
    this.stats.completed++;
    const completionTokens = plan.tokens.length + (plan.callTokens ?? 0);
    if (plan.toolCalls !== undefined) {
      return Promise.resolve({
        text: plan.text,
        finishReason: plan.finishReason,
        promptTokens,
        completionTokens,
        toolCalls: plan.toolCalls,
      });
    }
    return Promise.resolve({ text: plan.text, finishReason: plan.finishReason, promptTokens, completionTokens });
  }

  /** A whole answer paced like a stream, so that timeouts and disconnects behave as with a real engine. */
  async #paced(entry: MemoEntry, params: GenerateParams): Promise<GenerationResult> {
    let text = "";
    const toolCalls: ToolCall[] = [];
    for await (const e of this.#generate(entry, params)) {
      if (e.type === "text") text += e.text;
      else if (e.type === "tool_call") toolCalls.push(e.call);
      else {
        return {
          text,
          finishReason: e.finishReason,
          promptTokens: e.promptTokens,
          completionTokens: e.completionTokens,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
        };
      }
    }
    throw new Error("mock generation ended without done");
  }

  async embed(params: EmbedParams): Promise<EmbedResult> {
    const dims = params.dimensions ?? MOCK_EMBEDDING_DIMENSIONS;
    if (dims > MOCK_EMBEDDING_DIMENSIONS) {
      throw invalidRequestError(
        `Invalid 'dimensions': ${params.model} supports at most ${MOCK_EMBEDDING_DIMENSIONS} dimensions.`,
        "dimensions",
        "invalid_value",
      );
    }
    let promptTokens = 0;
    const embeddings = params.input.map((text) => {
      promptTokens += countMockTokens(text);
      return hashEmbedding(text, dims);
    });
    return { embeddings, promptTokens };
  }

  /**
   * A structured answer (response_format): `{"response": <the plain answer>}` for json_object, else an
   * instance of the JSON Schema built from the same deterministic stream, cut into 8-character tokens so it
   * streams like text.
   */
  jsonTokens(
    key: string,
    params: Pick<GenerateParams, "model" | "temperature" | "topP" | "seed" | "choiceIndex">,
    format: ResponseFormat,
  ): string[] {
    const words = this.answerTokens(key, params);
    const rand = prng(fnv1a(`json|${key}|${params.choiceIndex}|${params.seed ?? ""}`));
    const value =
      format.type === "json_object" ? { response: words.join("") } : exampleOf(format.schema, rand, words, 0);
    const text = JSON.stringify(value);
    const tokens: string[] = [];
    for (let i = 0; i < text.length; i += 8) tokens.push(text.slice(i, i + 8));
    return tokens;
  }

  /** The full answer for a request key, as tokens (each a word with its leading space). */
  answerTokens(
    key: string,
    params: Pick<GenerateParams, "model" | "temperature" | "topP" | "seed" | "choiceIndex">,
  ): string[] {
    const seedKey = `${params.model}|${params.temperature ?? ""}|${params.topP ?? ""}|${params.seed ?? ""}|${params.choiceIndex}|${key}`;
    const rand = prng(fnv1a(seedKey));
    const length = 12 + Math.floor(rand() * 24);
    const tokens: string[] = ["This", " is", " a", " mock", " response", ":"];
    for (let i = tokens.length; i < length; i++) {
      tokens.push(` ${WORDS[Math.floor(rand() * WORDS.length)] ?? "token"}`);
    }
    tokens.push(".");
    return tokens;
  }

  async *#generate(entry: MemoEntry, params: GenerateParams): AsyncGenerator<GenerationEvent> {
    this.stats.started++;
    const { promptTokens } = entry;
    const { tokens, finishReason } = entry.plan;
    const { abort } = params;
    let emitted = 0;
    let finished = false;
    try {
      for (const text of tokens) {
        if (this.#tokenDelayMs > 0) await sleep(this.#tokenDelayMs, abort.signal);
        if (abort.aborted) throw abort.reason;
        this.stats.tokens++;
        emitted++;
        yield { type: "text", text };
      }
      for (const call of entry.plan.toolCalls ?? []) {
        if (this.#tokenDelayMs > 0) await sleep(this.#tokenDelayMs, abort.signal);
        if (abort.aborted) throw abort.reason;
        yield { type: "tool_call", call };
      }
      finished = true;
      this.stats.completed++;
      yield { type: "done", finishReason, promptTokens, completionTokens: emitted + (entry.plan.callTokens ?? 0) };
    } finally {
      // Reached by an abort (throw above) or by the consumer closing the iterator early.
      if (!finished) this.stats.aborted++;
    }
  }
}

/**
 * A memo hash of a text from its length and its first and last 32 characters: cheap for long prompts,
 * and enough to spread requests over buckets (sameRequest compares the whole text on a hit).
 */
function sampleHash(text: string, h: number): number {
  const n = text.length;
  h = Math.imul(h ^ n, 0x01000193) >>> 0;
  if (n <= 64) return fnv1a(text, h);
  for (let i = 0; i < 32; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  for (let i = n - 32; i < n; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A JSON Schema instance, deterministic for a given random stream (the subset clients use in practice). */
function exampleOf(schema: unknown, rand: () => number, words: string[], depth: number): unknown {
  if (schema === null || typeof schema !== "object" || depth > 8) return null;
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[Math.floor(rand() * s.enum.length)];
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    const options = s[k];
    if (Array.isArray(options) && options.length > 0) return exampleOf(options[0], rand, words, depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [name, sub] of Object.entries(props)) out[name] = exampleOf(sub, rand, words, depth + 1);
      return out;
    }
    case "array": {
      const min = typeof s.minItems === "number" ? s.minItems : 1;
      const max = typeof s.maxItems === "number" ? s.maxItems : Math.max(min, 3);
      const n = min + Math.floor(rand() * (max - min + 1));
      return Array.from({ length: n }, () => exampleOf(s.items, rand, words, depth + 1));
    }
    case "string": {
      const start = Math.floor(rand() * Math.max(1, words.length - 3));
      return words
        .slice(start, start + 3)
        .join("")
        .trim();
    }
    case "integer": {
      const min = typeof s.minimum === "number" ? Math.ceil(s.minimum) : 0;
      const max = typeof s.maximum === "number" ? Math.floor(s.maximum) : min + 100;
      return min + Math.floor(rand() * (max - min + 1));
    }
    case "number": {
      const min = typeof s.minimum === "number" ? s.minimum : 0;
      const max = typeof s.maximum === "number" ? s.maximum : min + 1;
      return Math.round((min + rand() * (max - min)) * 1000) / 1000;
    }
    case "boolean":
      return rand() < 0.5;
    default:
      return null;
  }
}

/**
 * What besides the messages shapes a chat answer: response_format and tools (memo key; "" when neither).
 * The messages themselves, roles included, are compared by sameRequest.
 */
function formatKey(p: GenerateParams): string {
  const c = p as Partial<ChatParams>;
  if (c.responseFormat === undefined && c.tools === undefined) return "";
  return JSON.stringify([c.responseFormat ?? null, c.tools ?? null, c.toolChoice ?? null]);
}

function sameRequest(
  e: MemoEntry,
  p: GenerateParams,
  messages: readonly Message[] | undefined,
  prompt: string,
): boolean {
  if (
    e.format !== formatKey(p) ||
    e.model !== p.model ||
    e.choiceIndex !== p.choiceIndex ||
    e.prompt !== prompt ||
    e.temperature !== p.temperature ||
    e.topP !== p.topP ||
    e.seed !== p.seed ||
    e.maxTokens !== p.maxTokens ||
    e.stop.length !== p.stop.length
  ) {
    return false;
  }
  for (let i = 0; i < e.stop.length; i++) if (e.stop[i] !== p.stop[i]) return false;
  const em = e.messages;
  if (em === undefined || messages === undefined) return em === messages;
  if (em.length !== messages.length) return false;
  for (let i = 0; i < em.length; i++) {
    const a = em[i];
    const b = messages[i];
    if (a === undefined || b === undefined || a.role !== b.role || a.content !== b.content) return false;
  }
  return true;
}

/** The request key and prompt token count of a chat (~4 tokens of framing per message, as OpenAI counts). */
function chatKey(messages: readonly Message[]): { key: string; promptTokens: number } {
  let key = "";
  let promptTokens = 3;
  for (const m of messages) {
    key += `${m.role}\u0000${m.content}\u0001`;
    promptTokens += 4 + countMockTokens(m.content);
  }
  return { key, promptTokens };
}

/** Cut the answer before the first stop sequence (which may begin mid-token). */
function applyStop(tokens: string[], stop: string[]): string[] {
  const full = tokens.join("");
  let cut = -1;
  for (const s of stop) {
    if (s === "") continue;
    const at = full.indexOf(s);
    if (at !== -1 && (cut === -1 || at < cut)) cut = at;
  }
  if (cut === -1) return tokens;
  const out: string[] = [];
  let pos = 0;
  for (const t of tokens) {
    if (pos + t.length <= cut) out.push(t);
    else {
      if (cut > pos) out.push(t.slice(0, cut - pos));
      break;
    }
    pos += t.length;
  }
  return out;
}

/** Feature-hashed bag of words (signed) into `dims` buckets, unit length. */
function hashEmbedding(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  for (const w of words) {
    const h = fnv1a(w);
    const i = h % dims;
    v[i] = (v[i] ?? 0) + ((h >>> 16) & 1 ? 1 : -1);
  }
  return truncateAndNormalize(v, dims);
}
