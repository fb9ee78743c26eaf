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

type Plan = { tokens: readonly string[]; text: string; finishReason: "stop" | "length" };

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

export class MockBackend implements Backend {
  readonly name = "mock";
  readonly stats: MockStats = { started: 0, completed: 0, aborted: 0, tokens: 0 };
  readonly #tokenDelayMs: number;
  readonly #aliases: string[];
  /** settings → request key → plan (two levels, so a lookup does not copy the prompt into a new key). */
  readonly #memo = new Map<string, Map<string, Plan>>();
  #memoCount = 0;

  constructor(options: MockBackendOptions = {}) {
    this.#tokenDelayMs = options.tokenDelayMs ?? 0;
    this.#aliases = options.aliases ?? [];
  }

  async listModels(): Promise<BackendModel[]> {
    return [{ id: MOCK_MODEL, created: MOCK_CREATED, ownedBy: "compute", aliases: this.#aliases }];
  }

  chat(params: ChatParams): AsyncIterable<GenerationEvent> {
    const { key, promptTokens } = chatKey(params);
    return this.#generate(key, promptTokens, params);
  }

  complete(params: CompletionParams): AsyncIterable<GenerationEvent> {
    return this.#generate(params.prompt, countMockTokens(params.prompt), params);
  }

  async chatOnce(params: ChatParams): Promise<GenerationResult> {
    const { key, promptTokens } = chatKey(params);
    return this.#once(key, promptTokens, params);
  }

  async completeOnce(params: CompletionParams): Promise<GenerationResult> {
    return this.#once(params.prompt, countMockTokens(params.prompt), params);
  }

  /** Plan a generation: the tokens it will emit and why it stops (memoised: the mock is deterministic). */
  #plan(key: string, params: GenerateParams): Plan {
    const settings = `${params.model}|${params.temperature ?? ""}|${params.topP ?? ""}|${params.seed ?? ""}|${params.choiceIndex}|${params.maxTokens ?? ""}|${params.stop.join("\u0002")}`;
    let byKey = this.#memo.get(settings);
    const hit = byKey?.get(key);
    if (hit !== undefined) return hit;
    const plan = this.#computePlan(key, params);
    if (this.#memoCount >= MEMO_SIZE) {
      this.#memo.clear();
      this.#memoCount = 0;
      byKey = undefined;
    }
    if (byKey === undefined) {
      byKey = new Map();
      this.#memo.set(settings, byKey);
    }
    byKey.set(key, plan);
    this.#memoCount++;
    return plan;
  }

  #computePlan(key: string, params: GenerateParams): Plan {
    let tokens = this.answerTokens(key, params);
    let finishReason: "stop" | "length" = "stop";
    if (params.stop.length > 0) tokens = applyStop(tokens, params.stop);
    if (params.maxTokens !== undefined && tokens.length > params.maxTokens) {
      tokens = tokens.slice(0, params.maxTokens);
      finishReason = "length";
    }
    return { tokens, text: tokens.join(""), finishReason };
  }

  async #once(key: string, promptTokens: number, params: GenerateParams): Promise<GenerationResult> {
    if (this.#tokenDelayMs > 0) {
      // Paced like a stream so that timeouts and disconnects behave as with a real engine.
      let text = "";
      for await (const e of this.#generate(key, promptTokens, params)) {
        if (e.type === "text") text += e.text;
        else return { text, finishReason: e.finishReason, promptTokens: e.promptTokens, completionTokens: e.completionTokens };
      }
      throw new Error("mock generation ended without done");
    }
    this.stats.started++;
    if (params.abort.aborted) {
      this.stats.aborted++;
      throw params.abort.reason;
    }
    const { tokens, text, finishReason } = this.#plan(key, params);
    this.stats.tokens += tokens.length;
    this.stats.completed++;
    return { text, finishReason, promptTokens, completionTokens: tokens.length };
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

  /** The full answer for a request key, as tokens (each a word with its leading space). */
  answerTokens(key: string, params: Pick<GenerateParams, "model" | "temperature" | "topP" | "seed" | "choiceIndex">): string[] {
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

  async *#generate(key: string, promptTokens: number, params: GenerateParams): AsyncGenerator<GenerationEvent> {
    this.stats.started++;
    const { tokens, finishReason } = this.#plan(key, params);
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
      finished = true;
      this.stats.completed++;
      yield { type: "done", finishReason, promptTokens, completionTokens: emitted };
    } finally {
      // Reached by an abort (throw above) or by the consumer closing the iterator early.
      if (!finished) this.stats.aborted++;
    }
  }
}

/** The request key and prompt token count of a chat (~4 tokens of framing per message, as OpenAI counts). */
function chatKey(params: ChatParams): { key: string; promptTokens: number } {
  let key = "";
  let promptTokens = 3;
  for (const m of params.messages) {
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
