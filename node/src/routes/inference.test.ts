/**
 * The node's OpenAI-compatible surface, exercised with the official `openai` client against the mock
 * backend on a real port.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cosineSimilarity, decodeFloat32Base64 } from "@jeju/compute-sdk/openai/index";
import { MOCK_EMBEDDING_DIMENSIONS, MockBackend } from "../backends/mock.ts";
import { ModelRegistry } from "../backends/registry.ts";
import type { Backend } from "../backends/types.ts";
import { silentLogger } from "../logger.ts";
import { rejection, sseFrames, startTestNode, type TestNode } from "../testing/harness.ts";

const SEED_CURL_BODY = {
  model: "llama2",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Explain quantum computing in simple terms." },
  ],
};

let node: TestNode;
let client: OpenAI;
const mock = new MockBackend();

beforeAll(async () => {
  node = await startTestNode([mock], { maxBodyBytes: 64 * 1024 });
  client = node.client;
});
afterAll(async () => {
  await node.close();
});

function expectApiError(err: unknown, status: number, type: string, code: string | null, param: string | null) {
  expect(err).toBeInstanceOf(OpenAI.APIError);
  const e = err as InstanceType<typeof OpenAI.APIError>;
  expect({ status: e.status, type: e.type, code: e.code, param: e.param }).toEqual({ status, type, code, param });
}

describe("GET /v1/models", () => {
  it("lists mock-model in OpenAI's list shape", async () => {
    const page = await client.models.list();
    expect(page.data).toEqual([{ id: "mock-model", object: "model", created: 1_704_067_200, owned_by: "compute" }]);
    const res = await fetch(`${node.baseURL}/models`);
    expect(await res.json()).toEqual({ object: "list", data: page.data });
  });

  it("retrieves one model, 404 model_not_found for another", async () => {
    expect((await client.models.retrieve("mock-model")).id).toBe("mock-model");
    expectApiError(
      await rejection(client.models.retrieve("llama2")),
      404,
      "invalid_request_error",
      "model_not_found",
      "model",
    );
  });
});

describe("POST /v1/chat/completions", () => {
  it("answers in the chat.completion shape with usage", async () => {
    const res = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "Hello!" }],
    });
    expect(res.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect(res.object).toBe("chat.completion");
    expect(res.model).toBe("mock-model");
    expect(Math.abs(res.created - Date.now() / 1000)).toBeLessThan(5);
    expect(res.choices).toHaveLength(1);
    const choice = res.choices[0];
    expect(choice?.index).toBe(0);
    expect(choice?.message.role).toBe("assistant");
    expect(choice?.message.content).toMatch(/^This is a mock response: .+\.$/);
    expect(choice?.logprobs).toBeNull();
    expect(choice?.finish_reason).toBe("stop");
    const u = res.usage;
    expect(u?.prompt_tokens).toBeGreaterThan(0);
    expect(u?.completion_tokens).toBeGreaterThan(0);
    expect(u?.total_tokens).toBe((u?.prompt_tokens ?? 0) + (u?.completion_tokens ?? 0));
  });

  it("is deterministic: the same request gets the same answer", async () => {
    const req = { model: "mock-model", messages: [{ role: "user" as const, content: "same" }], seed: 7 };
    const a = await client.chat.completions.create(req);
    const b = await client.chat.completions.create(req);
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    const c = await client.chat.completions.create({ ...req, seed: 8 });
    expect(c.choices[0]?.message.content).not.toBe(a.choices[0]?.message.content);
  });

  it("honours max_tokens (finish_reason length) and max_completion_tokens", async () => {
    const res = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 3,
    });
    expect(res.choices[0]?.message.content).toBe("This is a");
    expect(res.choices[0]?.finish_reason).toBe("length");
    expect(res.usage?.completion_tokens).toBe(3);
    const res2 = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "x" }],
      max_completion_tokens: 2,
    });
    expect(res2.choices[0]?.message.content).toBe("This is");
  });

  it("honours stop (string and array)", async () => {
    const a = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "x" }],
      stop: " mock",
    });
    expect(a.choices[0]?.message.content).toBe("This is a");
    expect(a.choices[0]?.finish_reason).toBe("stop");
    const b = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "x" }],
      stop: ["zzz", "is a"],
    });
    expect(b.choices[0]?.message.content).toBe("This ");
  });

  it("generates n choices, prompt counted once", async () => {
    const one = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "n" }],
    });
    const res = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "n" }],
      n: 3,
    });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(res.choices[0]?.message.content).toBe(one.choices[0]?.message.content);
    expect(res.usage?.prompt_tokens).toBe(one.usage?.prompt_tokens);
    const words = res.choices.reduce((s, c) => s + (c.message.content?.match(/\w+|[^\w\s]/g)?.length ?? 0), 0);
    expect(res.usage?.completion_tokens).toBe(words);
  });

  it("streams chunks with the role first, finish_reason last and usage when asked", async () => {
    const full = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "s" }],
    });
    const stream = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "s" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "mock-model")).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(content).toBe(full.choices[0]?.message.content);
    const finish = chunks.at(-2);
    expect(finish?.choices[0]?.delta).toEqual({});
    expect(finish?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(full.usage);
  });

  it("streams raw SSE frames ending in [DONE], no usage field unless asked", async () => {
    const res = await fetch(`${node.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "mock-model",
        messages: [{ role: "user", content: "x" }],
        stream: true,
        max_tokens: 2,
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const frames = await sseFrames(res);
    expect(frames.at(-1)).toBe("[DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f) as Record<string, unknown>);
    expect(chunks).toHaveLength(4); // role, "This", " is", finish
    expect(chunks.every((c) => !("usage" in c))).toBe(true);
    expect(chunks.at(-1)).toMatchObject({
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "length" }],
    });
  });

  it("streams n choices, each with its own role chunk and finish", async () => {
    const stream = await client.chat.completions.create({
      model: "mock-model",
      messages: [{ role: "user", content: "x" }],
      n: 2,
      max_tokens: 2,
      stream: true,
    });
    const byIndex = new Map<number, string[]>();
    const finishes = new Map<number, string | null>();
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        byIndex.set(c.index, [...(byIndex.get(c.index) ?? []), c.delta.content ?? ""]);
        if (c.finish_reason) finishes.set(c.index, c.finish_reason);
      }
    }
    expect(byIndex.get(0)?.join("")).toBe("This is");
    expect(byIndex.get(1)?.join("")).toBe("This is");
    expect(Object.fromEntries(finishes)).toEqual({ 0: "length", 1: "length" });
  });

  it("accepts content parts and developer messages", async () => {
    const res = await client.chat.completions.create({
      model: "mock-model",
      messages: [
        { role: "developer", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "hi" }] },
      ],
    });
    expect(res.choices[0]?.message.content).toMatch(/^This is a mock response/);
  });
});

describe("the seed's curl example", () => {
  it("works as written against a model the node serves", async () => {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...SEED_CURL_BODY, model: "mock-model" }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; choices: Array<{ message: { content: string } }> };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
  });

  it("gives a clean 404 model_not_found for llama2 when no backend serves it", async () => {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(SEED_CURL_BODY),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: "The model `llama2` does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
  });

  it("answers llama2 when MODEL_ALIASES maps it to a served model", async () => {
    const aliased = await startTestNode([new MockBackend()], { aliases: { llama2: "mock-model" } });
    try {
      const res = await fetch(`${aliased.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(SEED_CURL_BODY),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: string };
      expect(body.model).toBe("llama2");
      const ids = (await aliased.client.models.list()).data.map((m) => m.id);
      expect(ids).toEqual(["mock-model", "llama2"]);
    } finally {
      await aliased.close();
    }
  });
});

describe("fallback model names (FALLBACK_MODELS)", () => {
  it("answers the docs' llama2 and nomic-embed-text with the node's model, without listing them", async () => {
    const fb = await startTestNode([new MockBackend()], {
      fallbackAliases: { llama2: "mock-model", "nomic-embed-text": "mock-model" },
    });
    try {
      const res = await fetch(`${fb.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(SEED_CURL_BODY),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: string; choices: Array<{ message: { content: string } }> };
      expect(body.model).toBe("llama2");
      const direct = await fb.client.chat.completions.create({
        model: "mock-model",
        messages: SEED_CURL_BODY.messages as OpenAI.ChatCompletionMessageParam[],
      });
      expect(body.choices[0]?.message.content).toBe(direct.choices[0]?.message.content);
      const emb = await fb.client.embeddings.create({
        model: "nomic-embed-text",
        input: "What is the meaning of life?",
      });
      expect(emb.model).toBe("nomic-embed-text");
      expect(emb.data[0]?.embedding).toHaveLength(MOCK_EMBEDDING_DIMENSIONS);
      expect((await fb.client.models.list()).data.map((m) => m.id)).toEqual(["mock-model"]);
    } finally {
      await fb.close();
    }
  });

  it("never shadows a model a backend really serves under that name", async () => {
    const inner = new MockBackend();
    const real: Backend = {
      name: "ollama",
      listModels: async () => [{ id: "llama2:latest", created: 0, ownedBy: "library", aliases: ["llama2"] }],
      chat: (p) => inner.chat(p),
      complete: (p) => inner.complete(p),
      embed: (p) => inner.embed(p),
    };
    const registry = new ModelRegistry([new MockBackend(), real], {
      fallbackAliases: { llama2: "mock-model", llama3: "mock-model" },
      log: silentLogger,
      refreshIntervalMs: 0,
    });
    await registry.refresh();
    expect((await registry.resolve("llama2")).backend.name).toBe("ollama");
    expect((await registry.resolve("llama3")).backend.name).toBe("mock");
  });
});

describe("POST /v1/completions", () => {
  it("completes a string prompt (default max_tokens 16)", async () => {
    const res = await client.completions.create({ model: "mock-model", prompt: "Once upon a time" });
    expect(res.object).toBe("text_completion");
    expect(res.id).toMatch(/^cmpl-/);
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]?.text.length).toBeGreaterThan(0);
    expect(res.choices[0]?.logprobs).toBeNull();
    expect(res.usage?.prompt_tokens).toBe(4);
    expect(res.usage?.completion_tokens).toBeLessThanOrEqual(16);
  });

  it("numbers choices prompt × n for an array prompt", async () => {
    const res = await client.completions.create({ model: "mock-model", prompt: ["a b", "c"], n: 2, max_tokens: 2 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(res.choices.map((c) => c.finish_reason)).toEqual(["length", "length", "length", "length"]);
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 8, total_tokens: 11 });
  });

  it("echoes the prompt when asked", async () => {
    const res = await client.completions.create({ model: "mock-model", prompt: "Say:", max_tokens: 1, echo: true });
    expect(res.choices[0]?.text).toBe("Say:This");
  });

  it("streams text_completion chunks with usage", async () => {
    const stream = await client.completions.create({
      model: "mock-model",
      prompt: "p",
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === "text_completion")).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.text ?? "").join("")).toBe("This is a");
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
  });
});

describe("POST /v1/embeddings", () => {
  it("returns float embeddings in OpenAI's list shape", async () => {
    const res = await client.embeddings.create({
      model: "mock-model",
      input: ["What is the meaning of life?", "hello"],
      encoding_format: "float",
    });
    expect(res.object).toBe("list");
    expect(res.model).toBe("mock-model");
    expect(res.data.map((d) => [d.object, d.index])).toEqual([
      ["embedding", 0],
      ["embedding", 1],
    ]);
    expect(res.data[0]?.embedding).toHaveLength(MOCK_EMBEDDING_DIMENSIONS);
    expect(res.usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });
  });

  it("returns base64 (little-endian float32) that decodes to the float answer", async () => {
    const input = "What is the meaning of life?";
    const floats = await client.embeddings.create({ model: "mock-model", input, encoding_format: "float" });
    const raw = await fetch(`${node.baseURL}/embeddings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-model", input, encoding_format: "base64" }),
    });
    const body = (await raw.json()) as { data: Array<{ embedding: string }> };
    expect(typeof body.data[0]?.embedding).toBe("string");
    const decoded = decodeFloat32Base64(body.data[0]?.embedding ?? "");
    const expected = floats.data[0]?.embedding ?? [];
    expect(decoded).toHaveLength(expected.length);
    for (const [i, v] of decoded.entries()) expect(v).toBeCloseTo(expected[i] ?? NaN, 6);
    // The openai client asks for base64 by default and decodes it itself.
    const viaClient = await client.embeddings.create({ model: "mock-model", input });
    expect(viaClient.data[0]?.embedding).toEqual(decoded);
  });

  it("honours dimensions and refuses more than the model has", async () => {
    const res = await client.embeddings.create({
      model: "mock-model",
      input: "hi there",
      dimensions: 16,
      encoding_format: "float",
    });
    const v = res.data[0]?.embedding ?? [];
    expect(v).toHaveLength(16);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expectApiError(
      await rejection(client.embeddings.create({ model: "mock-model", input: "x", dimensions: 100_000 })),
      400,
      "invalid_request_error",
      "invalid_value",
      "dimensions",
    );
  });

  it("scores related sentences closer than unrelated ones", async () => {
    const res = await client.embeddings.create({
      model: "mock-model",
      input: ["the gpu node serves inference", "a gpu node serving inference fast", "bananas are yellow fruit"],
      encoding_format: "float",
    });
    const [a, b, c] = res.data.map((d) => d.embedding);
    expect(cosineSimilarity(a ?? [], b ?? [])).toBeGreaterThan(cosineSimilarity(a ?? [], c ?? []));
  });
});

describe("errors", () => {
  async function post(path: string, body: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${node.baseURL}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
  }

  it("400 for malformed JSON", async () => {
    const { status, body } = await post("/chat/completions", '{"model": "mock-model", "messages": [');
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: null, code: null });
    expect(body.error.message).toMatch(/could not parse the JSON body/);
  });

  it("400 naming the missing field", async () => {
    expectApiError(
      await rejection(client.chat.completions.create({ model: "mock-model" } as never)),
      400,
      "invalid_request_error",
      "missing_required_parameter",
      "messages",
    );
  });

  it("400 naming a nested field with the wrong value", async () => {
    expectApiError(
      await rejection(
        client.chat.completions.create({ model: "mock-model", messages: [{ role: "wizard", content: "x" }] } as never),
      ),
      400,
      "invalid_request_error",
      "invalid_value",
      "messages.[0].role",
    );
    expectApiError(
      await rejection(client.chat.completions.create({ model: "mock-model", messages: [], n: 1 })),
      400,
      "invalid_request_error",
      "empty_array",
      "messages",
    );
  });

  it("400 for out-of-range numbers and wrong types", async () => {
    expectApiError(
      await rejection(
        client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "x" }], n: 0 }),
      ),
      400,
      "invalid_request_error",
      "integer_below_min_value",
      "n",
    );
    expectApiError(
      await rejection(
        client.chat.completions.create({
          model: "mock-model",
          messages: [{ role: "user", content: "x" }],
          temperature: 3,
        }),
      ),
      400,
      "invalid_request_error",
      "decimal_above_max_value",
      "temperature",
    );
    expectApiError(
      await rejection(client.completions.create({ model: "mock-model", prompt: "x", max_tokens: "ten" } as never)),
      400,
      "invalid_request_error",
      "invalid_type",
      "max_tokens",
    );
    expectApiError(
      await rejection(client.embeddings.create({ model: "mock-model", input: "" })),
      400,
      "invalid_request_error",
      "invalid_value",
      "input",
    );
  });

  it("400 unsupported_parameter for chat features the node does not implement, instead of ignoring them", async () => {
    const messages = [{ role: "user" as const, content: "What is the weather?" }];
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [
        { logprobs: true },
        "logprobs",
        "Returning log probabilities is not supported by this node; remove 'logprobs' from the request.",
      ],
      [
        { functions: [{ name: "weather", parameters: { type: "object" } }] },
        "functions",
        "The legacy 'functions' parameter (use 'tools') is not supported by this node; remove 'functions' from the request.",
      ],
    ];
    for (const [extra, param, message] of cases) {
      const err = await client.chat.completions
        .create({ model: "mock-model", messages, ...extra } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      expectApiError(err, 400, "invalid_request_error", "unsupported_parameter", param);
      expect((err as InstanceType<typeof OpenAI.APIError>).message).toBe(`400 ${message}`);
    }
    // Off values pass: empty tools, tool_choice none, logprobs false, response_format text.
    const ok = await client.chat.completions.create({
      model: "mock-model",
      messages,
      tools: [],
      tool_choice: "none",
      logprobs: false,
      response_format: { type: "text" },
    } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(ok.choices[0]?.message.content).toMatch(/^This is a mock response/);
  });

  it("tool calling: the model calls a tool with schema-valid arguments; the answer comes after the tool's result", async () => {
    const weather = {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Current weather in a city",
        parameters: {
          type: "object",
          properties: { city: { type: "string", enum: ["Paris", "Rome"] }, unit: { type: "string", enum: ["C", "F"] } },
          required: ["city", "unit"],
        },
      },
    };
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Paris?" }];
    const res = await client.chat.completions.create({ model: "mock-model", messages, tools: [weather] });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe("function");
    expect(call?.id).toMatch(/^call_[a-z0-9]+$/);
    const fn = (call as OpenAI.ChatCompletionMessageFunctionToolCall).function;
    expect(fn.name).toBe("get_weather");
    const args = JSON.parse(fn.arguments) as { city: string; unit: string };
    expect(["Paris", "Rome"]).toContain(args.city);
    expect(["C", "F"]).toContain(args.unit);
    expect(res.usage?.completion_tokens).toBeGreaterThan(0);

    // Streamed: the same call arrives as a tool_calls delta, then finish_reason tool_calls.
    const stream = await client.chat.completions.create({
      model: "mock-model",
      messages,
      tools: [weather],
      stream: true,
    });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(deltas).toEqual([{ index: 0, id: call?.id, type: "function", function: fn }]);
    expect(finish).toBe("tool_calls");

    // The official client's tool runner: call → run the function → send the result → final text answer.
    const seen: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: "mock-model",
      messages,
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: weather.function.description,
            parameters: weather.function.parameters,
            parse: JSON.parse,
            function: (a: unknown) => {
              seen.push(a);
              return { temperature: 21 };
            },
          },
        },
      ],
    });
    const final = await runner.finalContent();
    expect(seen).toEqual([args]);
    expect(final).toMatch(/^This is a mock response/);

    // tool_choice "none" answers in text; naming a tool that is not offered is a 400.
    const none = await client.chat.completions.create({
      model: "mock-model",
      messages,
      tools: [weather],
      tool_choice: "none",
    });
    expect(none.choices[0]?.message.content).toMatch(/^This is a mock response/);
    const bad = await client.chat.completions
      .create({
        model: "mock-model",
        messages,
        tools: [weather],
        tool_choice: { type: "function", function: { name: "nope" } },
      })
      .catch((e: unknown) => e);
    expectApiError(bad, 400, "invalid_request_error", "invalid_value", "tool_choice");
  });

  it("structured outputs: json_object wraps the answer, json_schema answers an instance of the schema, streamed alike", async () => {
    const messages = [{ role: "user" as const, content: "Rate this GPU." }];
    const plain = await client.chat.completions.create({ model: "mock-model", messages });
    const obj = await client.chat.completions.create({
      model: "mock-model",
      messages,
      response_format: { type: "json_object" },
    });
    expect(JSON.parse(obj.choices[0]?.message.content ?? "")).toEqual({ response: plain.choices[0]?.message.content });

    const schema = {
      type: "object",
      properties: {
        verdict: { type: "string", enum: ["good", "bad"] },
        score: { type: "integer", minimum: 1, maximum: 5 },
        tags: { type: "array", items: { type: "string" }, maxItems: 2 },
      },
      required: ["verdict", "score", "tags"],
    };
    const response_format = { type: "json_schema" as const, json_schema: { name: "rating", schema } };
    const rated = await client.chat.completions.create({ model: "mock-model", messages, response_format });
    const value = JSON.parse(rated.choices[0]?.message.content ?? "") as {
      verdict: string;
      score: number;
      tags: string[];
    };
    expect(["good", "bad"]).toContain(value.verdict);
    expect(Number.isInteger(value.score) && value.score >= 1 && value.score <= 5).toBe(true);
    expect(value.tags.length).toBeLessThanOrEqual(2);
    for (const t of value.tags) expect(typeof t).toBe("string");

    const stream = await client.chat.completions.create({
      model: "mock-model",
      messages,
      response_format,
      stream: true,
    });
    let streamed = "";
    let chunks = 0;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta.content;
      if (d) {
        streamed += d;
        chunks++;
      }
    }
    expect(streamed).toBe(rated.choices[0]?.message.content);
    expect(chunks).toBeGreaterThan(1);

    const err = await client.chat.completions
      .create({
        model: "mock-model",
        messages,
        response_format: { type: "xml" },
      } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe("response_format.type");
  });

  it("404 model_not_found on every inference route", async () => {
    expectApiError(
      await rejection(client.chat.completions.create({ model: "llama2", messages: [{ role: "user", content: "x" }] })),
      404,
      "invalid_request_error",
      "model_not_found",
      "model",
    );
    expectApiError(
      await rejection(
        client.chat.completions.create({ model: "llama2", messages: [{ role: "user", content: "x" }], stream: true }),
      ),
      404,
      "invalid_request_error",
      "model_not_found",
      "model",
    );
    expectApiError(
      await rejection(client.completions.create({ model: "nope", prompt: "x" })),
      404,
      "invalid_request_error",
      "model_not_found",
      "model",
    );
    expectApiError(
      await rejection(client.embeddings.create({ model: "nomic-embed-text", input: "x" })),
      404,
      "invalid_request_error",
      "model_not_found",
      "model",
    );
  });

  it("413 for a body over the limit (declared or chunked)", async () => {
    const big = "x".repeat(70 * 1024);
    expectApiError(
      await rejection(
        client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: big }] }),
      ),
      413,
      "invalid_request_error",
      "request_too_large",
      null,
    );
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        const enc = new TextEncoder();
        controller.enqueue(enc.encode('{"model":"mock-model","messages":[{"role":"user","content":"'));
        for (let i = 0; i < 8; i++) controller.enqueue(enc.encode("y".repeat(10_000)));
        controller.enqueue(enc.encode('"}]}'));
        controller.close();
      },
    });
    const res = await fetch(`${node.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunked,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
  });

  it("404 in the OpenAI shape for an unknown route", async () => {
    const res = await fetch(`${node.baseURL}/engines`, { method: "GET" });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: "Invalid URL (GET /v1/engines)",
        type: "invalid_request_error",
        param: null,
        code: "not_found",
      },
    });
  });
});

describe("health and hardware", () => {
  it("GET /health reports backends and models", async () => {
    const res = await fetch(`${node.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "ok",
      models: ["mock-model"],
      backends: [{ name: "mock", reachable: true }],
      marketplace: false,
    });
  });

  it("GET /v1/hardware reports CPU, memory, disk, GPUs and TEE", async () => {
    const res = await fetch(`${node.baseURL}/hardware`);
    expect(res.status).toBe(200);
    const hw = (await res.json()) as {
      cpu: { cores: number; model: string };
      memory: { total_bytes: number };
      disk: { total_bytes: number } | null;
      gpus: unknown[];
      tee: { available: boolean; types: string[] };
    };
    expect(hw.cpu.cores).toBeGreaterThan(0);
    expect(hw.cpu.model.length).toBeGreaterThan(0);
    expect(hw.memory.total_bytes).toBeGreaterThan(0);
    expect(hw.disk?.total_bytes).toBeGreaterThan(0);
    expect(Array.isArray(hw.gpus)).toBe(true);
    expect(typeof hw.tee.available).toBe("boolean");
  });
});
