/**
 * The ollama adapter against a fake Ollama speaking the native API (NDJSON streaming), through the node.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_OLLAMA_TEXT, type FakeOllama, fakeOllamaToolArguments, startFakeOllama } from "../testing/fake-ollama.ts";
import {
  chatParams,
  closedPort,
  rejection,
  sseFrames,
  startTestNode,
  streamedToolCalls,
  type TestNode,
} from "../testing/harness.ts";
import { MockBackend } from "./mock.ts";
import { OllamaBackend } from "./ollama.ts";
import type { ChatParams, GenerationEvent } from "./types.ts";

let ollama: FakeOllama;
let node: TestNode;

beforeAll(async () => {
  ollama = await startFakeOllama();
  node = await startTestNode([new OllamaBackend({ host: ollama.url }), new MockBackend()]);
});
afterAll(async () => {
  await node.close();
  await ollama.close();
});

const lastRequest = () => ollama.requests.at(-1);

describe("ollama backend", () => {
  it("lists the models from /api/tags with created in seconds", async () => {
    const models = (await node.client.models.list()).data;
    expect(models.map((m) => m.id)).toEqual([
      "llama2:latest",
      "nomic-embed-text:latest",
      "broken:latest",
      "dropped:latest",
      "mock-model",
    ]);
    expect(models[0]).toEqual({ id: "llama2:latest", object: "model", created: 1701970338, owned_by: "ollama" });
  });

  it("answers the seed's curl example for llama2 via /api/chat", async () => {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        model: "llama2",
        messages: [
          { role: "system", content: "You are a helpful assistant." },
          { role: "user", content: "Explain quantum computing in simple terms." },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as OpenAI.ChatCompletion;
    expect(body.model).toBe("llama2");
    expect(body.choices[0]?.message.content).toBe(FAKE_OLLAMA_TEXT.join(""));
    expect(body.choices[0]?.finish_reason).toBe("stop");
    expect(body.usage).toEqual({
      prompt_tokens: 26,
      completion_tokens: FAKE_OLLAMA_TEXT.length,
      total_tokens: 26 + FAKE_OLLAMA_TEXT.length,
    });
    expect(lastRequest()).toEqual({
      path: "/api/chat",
      body: {
        model: "llama2:latest",
        messages: [
          { role: "system", content: "You are a helpful assistant." },
          { role: "user", content: "Explain quantum computing in simple terms." },
        ],
        stream: true,
        options: {},
      },
    });
  });

  it("maps sampling options to Ollama's options and done_reason length to finish_reason length", async () => {
    const res = await node.client.chat.completions.create({
      model: "llama2:latest",
      messages: [{ role: "user", content: "hi" }],
      temperature: 0.3,
      top_p: 0.9,
      seed: 42,
      stop: ["\n\n"],
      max_tokens: 3,
    });
    expect(res.choices[0]?.message.content).toBe("Quantum computers use");
    expect(res.choices[0]?.finish_reason).toBe("length");
    expect(res.usage?.completion_tokens).toBe(3);
    expect(lastRequest()?.body.options).toEqual({
      temperature: 0.3,
      top_p: 0.9,
      seed: 42,
      stop: ["\n\n"],
      num_predict: 3,
    });
  });

  it('passes structured outputs as Ollama\'s format: "json" or the JSON Schema', async () => {
    const messages = [{ role: "user" as const, content: "hi" }];
    await node.client.chat.completions.create({
      model: "llama2:latest",
      messages,
      response_format: { type: "json_object" },
    });
    expect(lastRequest()?.body.format).toBe("json");
    const schema = { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] };
    await node.client.chat.completions.create({
      model: "llama2:latest",
      messages,
      response_format: { type: "json_schema", json_schema: { name: "ok", schema } },
    });
    expect(lastRequest()?.body.format).toEqual(schema);
    await node.client.chat.completions.create({ model: "llama2:latest", messages });
    expect(lastRequest()?.body).not.toHaveProperty("format");
  });

  it("streams NDJSON lines as chat chunks with usage from prompt_eval_count/eval_count", async () => {
    const stream = await node.client.chat.completions.create({
      model: "llama2",
      messages: [{ role: "user", content: "Write a story" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      deltas.push(chunk.choices[0]?.delta?.content || "");
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.join("")).toBe(FAKE_OLLAMA_TEXT.join(""));
    expect(finish).toBe("stop");
    expect(usage).toEqual({
      prompt_tokens: 26,
      completion_tokens: FAKE_OLLAMA_TEXT.length,
      total_tokens: 26 + FAKE_OLLAMA_TEXT.length,
    });
  });

  it("completes raw prompts via /api/generate", async () => {
    const res = await node.client.completions.create({ model: "llama2", prompt: "Q:", max_tokens: 2 });
    expect(res.choices[0]?.text).toBe("Quantum computers");
    expect(res.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    expect(lastRequest()).toEqual({
      path: "/api/generate",
      body: { model: "llama2:latest", prompt: "Q:", raw: true, stream: true, options: { num_predict: 2 } },
    });
  });

  it("embeds via /api/embed (float, base64, dimensions)", async () => {
    const res = await node.client.embeddings.create({
      model: "nomic-embed-text",
      input: ["What is the meaning of life?", "hi"],
      encoding_format: "float",
    });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding).toHaveLength(8);
    expect(res.usage.prompt_tokens).toBe(7);
    expect(lastRequest()?.body).toEqual({
      model: "nomic-embed-text:latest",
      input: ["What is the meaning of life?", "hi"],
    });
    const b64 = await node.client.embeddings.create({
      model: "nomic-embed-text",
      input: "What is the meaning of life?",
    });
    for (const [i, v] of (b64.data[0]?.embedding ?? []).entries())
      expect(v).toBeCloseTo(res.data[0]?.embedding[i] ?? NaN, 6);
    const short = await node.client.embeddings.create({ model: "nomic-embed-text", input: "hi there", dimensions: 3 });
    expect(short.data[0]?.embedding).toHaveLength(3);
    const err = await rejection(
      node.client.embeddings.create({ model: "nomic-embed-text", input: "x", dimensions: 9 }),
    );
    expect(err).toMatchObject({ status: 400, param: "dimensions", code: "invalid_value" });
  });

  it("sends an error frame when Ollama fails mid-stream (error line)", async () => {
    const res = await fetch(`${node.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "broken", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(res.status).toBe(200);
    const frames = await sseFrames(res);
    expect(
      frames.slice(0, 3).map((f) => (JSON.parse(f) as OpenAI.ChatCompletionChunk).choices[0]?.delta.content),
    ).toEqual(["", "Quantum", " computers"]);
    expect(frames).not.toContain("[DONE]");
    expect(JSON.parse(frames.at(-1) ?? "")).toEqual({
      error: {
        message: "The ollama backend failed: an error was encountered while running the model: unexpected EOF",
        type: "server_error",
        param: null,
        code: "upstream_error",
      },
    });
    // The openai client surfaces the error frame as an APIError.
    const stream = await node.client.chat.completions.create({
      model: "broken",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const err = await rejection(
      (async () => {
        for await (const _ of stream);
      })(),
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/unexpected EOF/);
  });

  it("sends an error frame when Ollama drops the connection mid-stream", async () => {
    const res = await fetch(`${node.baseURL}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "dropped", prompt: "x", stream: true }),
    });
    const frames = await sseFrames(res);
    const last = JSON.parse(frames.at(-1) ?? "") as { error: { code: string; type: string } };
    expect(last.error).toMatchObject({ type: "server_error", code: "upstream_error" });
  });

  it("404 model_not_found for a model Ollama does not have", async () => {
    const err = await rejection(
      node.client.chat.completions.create({ model: "mixtral", messages: [{ role: "user", content: "x" }] }),
    );
    expect(err).toMatchObject({ status: 404, code: "model_not_found", param: "model" });
  });
});

describe("ollama backend down", () => {
  it("503 backend_unavailable while the other backends keep serving", async () => {
    const down = await startTestNode([
      new OllamaBackend({ host: `http://127.0.0.1:${await closedPort()}` }),
      new MockBackend(),
    ]);
    try {
      const err = await rejection(
        down.client.chat.completions.create({ model: "llama2", messages: [{ role: "user", content: "x" }] }),
      );
      expect(err).toMatchObject({
        status: 503,
        type: "service_unavailable_error",
        code: "backend_unavailable",
        param: null,
      });
      expect((await down.client.models.list()).data.map((m) => m.id)).toEqual(["mock-model"]);
      const ok = await down.client.chat.completions.create({
        model: "mock-model",
        messages: [{ role: "user", content: "x" }],
      });
      expect(ok.choices[0]?.message.content).toBeTruthy();
      const health = (await (await fetch(`${down.url}/health`)).json()) as { backends: unknown[] };
      expect(health.backends).toEqual([
        { name: "ollama", reachable: false },
        { name: "mock", reachable: true },
      ]);
    } finally {
      await down.close();
    }
  });

  it("503 (also when streaming) when Ollama goes away after its models were listed", async () => {
    const fake = await startFakeOllama();
    const n = await startTestNode([new OllamaBackend({ host: fake.url })]);
    try {
      await fake.close();
      for (const stream of [false, true]) {
        const err = await rejection(
          n.client.chat.completions.create({ model: "llama2", messages: [{ role: "user", content: "x" }], stream }),
        );
        expect(err).toMatchObject({ status: 503, code: "backend_unavailable" });
      }
    } finally {
      await n.close();
    }
  });
});

describe("ollama backend: tool calling", () => {
  const weather = {
    name: "get_current_weather",
    description: "Get the current weather for a location",
    parameters: {
      type: "object",
      properties: { location: { type: "string" }, format: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["location", "format"],
    },
  };
  const time = { name: "get_time", parameters: { type: "object", properties: {} } };
  const tools = [weather, time].map((f) => ({ type: "function" as const, function: f }));
  const messages = [{ role: "user" as const, content: "What is the weather today in Paris?" }];
  const argsOf = (call: OpenAI.ChatCompletionMessageToolCall | undefined) =>
    call?.type === "function" ? (JSON.parse(call.function.arguments) as unknown) : undefined;
  const params = (over: Partial<ChatParams>): ChatParams => chatParams("llama2:latest", messages, over);

  it("backend: turns message.tool_calls into tool_call events (JSON text arguments, call_ ids) and finishes with tool_calls", async () => {
    const backend = new OllamaBackend({ host: ollama.url });
    const events: GenerationEvent[] = [];
    for await (const e of backend.chat(params({ tools: [weather, time] }))) events.push(e);
    expect(events).toEqual([
      {
        type: "tool_call",
        call: {
          id: expect.stringMatching(/^call_[0-9a-f]{24}$/),
          type: "function",
          function: {
            name: "get_current_weather",
            arguments: JSON.stringify(fakeOllamaToolArguments("get_current_weather")),
          },
        },
      },
      {
        type: "tool_call",
        call: {
          id: expect.stringMatching(/^call_/),
          type: "function",
          function: { name: "get_time", arguments: JSON.stringify(fakeOllamaToolArguments("get_time")) },
        },
      },
      { type: "done", finishReason: "tool_calls", promptTokens: 26, completionTokens: 1 },
    ]);
    const ids = events.flatMap((e) => (e.type === "tool_call" ? [e.call.id] : []));
    expect(new Set(ids).size).toBe(2);
    expect(lastRequest()).toEqual({
      path: "/api/chat",
      body: {
        model: "llama2:latest",
        messages,
        tools: [
          { type: "function", function: weather },
          { type: "function", function: time },
        ],
        stream: true,
        options: {},
      },
    });
  });

  it("sends tools in Ollama's shape; the client gets message.tool_calls and finish_reason tool_calls", async () => {
    const res = await node.client.chat.completions.create({
      model: "llama2",
      messages,
      tools: [{ type: "function", function: weather }],
    });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    const calls = choice?.message.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    expect(calls[0]?.id).toMatch(/^call_/);
    expect(calls[0]?.type === "function" ? calls[0].function.name : undefined).toBe("get_current_weather");
    expect(argsOf(calls[0])).toEqual({
      tool: "get_current_weather",
      location: "Paris, FR",
      format: "celsius",
      days: 3,
    });
    expect(lastRequest()?.body.tools).toEqual([{ type: "function", function: weather }]);
    expect(lastRequest()?.body).not.toHaveProperty("tool_choice");
  });

  it("streams the calls to the client as delta.tool_calls with finish_reason tool_calls", async () => {
    const stream = await node.client.chat.completions.create({ model: "llama2", messages, tools, stream: true });
    const { calls, finish } = await streamedToolCalls(stream);
    expect(finish).toBe("tool_calls");
    expect(calls.map((c) => [c.name, JSON.parse(c.arguments) as unknown])).toEqual([
      ["get_current_weather", fakeOllamaToolArguments("get_current_weather")],
      ["get_time", fakeOllamaToolArguments("get_time")],
    ]);
    expect(calls.every((c) => c.id.startsWith("call_"))).toBe(true);
  });

  it("has no tool_choice upstream: a named choice sends only that tool, required sends them all", async () => {
    const named = await node.client.chat.completions.create({
      model: "llama2",
      messages,
      tools,
      tool_choice: { type: "function", function: { name: "get_time" } },
    });
    expect(lastRequest()?.body.tools).toEqual([{ type: "function", function: time }]);
    expect(lastRequest()?.body).not.toHaveProperty("tool_choice");
    expect(
      named.choices[0]?.message.tool_calls?.map((c) => (c.type === "function" ? c.function.name : c.type)),
    ).toEqual(["get_time"]);
    await node.client.chat.completions.create({ model: "llama2", messages, tools, tool_choice: "required" });
    expect(lastRequest()?.body.tools).toEqual(tools);
    expect(lastRequest()?.body).not.toHaveProperty("tool_choice");
  });

  it("sends history calls with object arguments and tool results as role tool (with the function's name)", async () => {
    const call = {
      id: "call_abc",
      type: "function" as const,
      function: { name: "get_current_weather", arguments: '{"location":"Paris, FR","format":"celsius"}' },
    };
    const res = await node.client.chat.completions.create({
      model: "llama2",
      messages: [
        ...messages,
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: "call_abc", content: "22 degrees celsius" },
      ],
    });
    expect(res.choices[0]?.message.content).toBe(FAKE_OLLAMA_TEXT.join(""));
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(lastRequest()?.body.messages).toEqual([
      { role: "user", content: "What is the weather today in Paris?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [
          { function: { name: "get_current_weather", arguments: { location: "Paris, FR", format: "celsius" } } },
        ],
      },
      { role: "tool", content: "22 degrees celsius", tool_name: "get_current_weather" },
    ]);
    expect(lastRequest()?.body).not.toHaveProperty("tools");
  });

  it("400 for history call arguments that are not a JSON object (Ollama needs an object)", async () => {
    const sent = ollama.requests.length;
    const err = await rejection(
      node.client.chat.completions.create({
        model: "llama2",
        messages: [
          ...messages,
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "[1," } }],
          },
        ],
      }),
    );
    expect(err).toMatchObject({ status: 400, param: "messages", code: "invalid_value" });
    expect((err as Error).message).toMatch(/JSON object for ollama models/);
    expect(ollama.requests.length).toBe(sent);
  });
});
