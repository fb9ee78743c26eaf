/**
 * The openai adapter against a fake OpenAI-compatible upstream (SSE streaming), through the node.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FAKE_OPENAI_KEY,
  FAKE_OPENAI_TEXT,
  type FakeOpenAI,
  fakeToolArguments,
  startFakeOpenAI,
} from "../testing/fake-openai.ts";
import {
  chatParams,
  closedPort,
  rejection,
  sseFrames,
  startTestNode,
  streamedToolCalls,
  type TestNode,
} from "../testing/harness.ts";
import { OpenAICompatibleBackend } from "./openai.ts";
import type { ChatParams, GenerationEvent } from "./types.ts";

let upstream: FakeOpenAI;
let node: TestNode;

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  node = await startTestNode([new OpenAICompatibleBackend({ baseUrl: upstream.url, apiKey: FAKE_OPENAI_KEY })]);
});
afterAll(async () => {
  await node.close();
  await upstream.close();
});

const text = FAKE_OPENAI_TEXT.join("");

describe("openai-compatible backend", () => {
  it("lists the upstream's models", async () => {
    const models = (await node.client.models.list()).data;
    expect(models[0]).toEqual({ id: "gpt-test", object: "model", created: 1_700_000_000, owned_by: "upstream-org" });
  });

  it("proxies chat with the API key, streaming upstream and re-emitting", async () => {
    const res = await node.client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "Hello!" }],
      temperature: 0.5,
      seed: 3,
      stop: "zz",
    });
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.choices[0]?.message.content).toBe(text);
    expect(res.usage).toEqual({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 });
    const req = upstream.requests.at(-1);
    expect(req?.authorization).toBe(`Bearer ${FAKE_OPENAI_KEY}`);
    expect(req?.body).toEqual({
      model: "gpt-test",
      messages: [{ role: "user", content: "Hello!" }],
      temperature: 0.5,
      seed: 3,
      stop: ["zz"],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("passes response_format through to the upstream", async () => {
    const messages = [{ role: "user" as const, content: "Hello!" }];
    const schema = { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] };
    await node.client.chat.completions.create({
      model: "gpt-test",
      messages,
      response_format: { type: "json_schema", json_schema: { name: "ok", schema, strict: true } },
    });
    expect(upstream.requests.at(-1)?.body.response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "ok", schema, strict: true },
    });
    await node.client.chat.completions.create({
      model: "gpt-test",
      messages,
      response_format: { type: "json_object" },
    });
    expect(upstream.requests.at(-1)?.body.response_format).toEqual({ type: "json_object" });
  });

  it("streams upstream SSE through as chunks with usage and [DONE]", async () => {
    const stream = await node.client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(FAKE_OPENAI_TEXT.slice(0, 4).join(""));
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });
  });

  it("proxies text completions and embeddings", async () => {
    const res = await node.client.completions.create({ model: "gpt-test", prompt: "Say", max_tokens: 2 });
    expect(res.choices[0]?.text).toBe("Hello from");
    expect(upstream.requests.at(-1)?.path).toBe("/v1/completions");
    const emb = await node.client.embeddings.create({
      model: "text-embedding-test",
      input: ["a", "bb"],
      dimensions: 5,
    });
    expect(emb.data.map((d) => d.embedding.length)).toEqual([5, 5]);
    expect(emb.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    expect(upstream.requests.at(-1)?.body).toEqual({
      model: "text-embedding-test",
      input: ["a", "bb"],
      encoding_format: "float",
      dimensions: 5,
    });
  });

  it("passes an upstream 400 through with its fields", async () => {
    const err = await rejection(
      node.client.chat.completions.create({ model: "rejects", messages: [{ role: "user", content: "x" }] }),
    );
    expect(err).toMatchObject({
      status: 400,
      type: "invalid_request_error",
      param: "messages",
      code: "context_length_exceeded",
      message: "400 messages too long for this model",
    });
  });

  it("sends an error frame when the upstream fails mid-stream", async () => {
    const res = await fetch(`${node.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "broken", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    const frames = await sseFrames(res);
    expect(
      frames.slice(1, 3).map((f) => (JSON.parse(f) as OpenAI.ChatCompletionChunk).choices[0]?.delta.content),
    ).toEqual(["Hello", " from"]);
    expect(JSON.parse(frames.at(-1) ?? "")).toEqual({
      error: {
        message: "The openai backend failed: upstream exploded",
        type: "server_error",
        param: null,
        code: "upstream_error",
      },
    });
  });

  it("sends an error frame when the upstream drops the connection mid-stream", async () => {
    const stream = await node.client.chat.completions.create({
      model: "dropped",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const seen: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? "");
      })(),
    );
    expect(seen.join("")).toBe("Hello from");
    expect(err).toBeInstanceOf(OpenAI.APIError);
  });

  it("503 when the upstream is unreachable; 502 when it rejects the node's key", async () => {
    const down = await startTestNode([
      new OpenAICompatibleBackend({ baseUrl: `http://127.0.0.1:${await closedPort()}/v1` }),
    ]);
    try {
      const err = await rejection(
        down.client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] }),
      );
      expect(err).toMatchObject({ status: 503, code: "backend_unavailable" });
    } finally {
      await down.close();
    }
    const badKey = new OpenAICompatibleBackend({ baseUrl: upstream.url, apiKey: "wrong" });
    await expect(badKey.listModels()).rejects.toMatchObject({ status: 502, code: "upstream_error" });
  });
});

describe("openai-compatible backend: tool calling", () => {
  const weather = {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  };
  const time = { name: "get_time", parameters: { type: "object", properties: {} } };
  const tools = [weather, time].map((f) => ({ type: "function" as const, function: f }));
  const messages = [{ role: "user" as const, content: "Weather and time in Paris?" }];
  const argsOf = (call: OpenAI.ChatCompletionMessageToolCall | undefined) =>
    call?.type === "function" ? (JSON.parse(call.function.arguments) as unknown) : undefined;

  it("backend: gathers the upstream's streamed delta.tool_calls fragments into complete tool_call events before done", async () => {
    const backend = new OpenAICompatibleBackend({ baseUrl: upstream.url, apiKey: FAKE_OPENAI_KEY });
    const params: ChatParams = chatParams("gpt-test", messages, {
      tools: [weather, time],
      toolChoice: "required",
    });
    const events: GenerationEvent[] = [];
    for await (const e of backend.chat(params)) events.push(e);
    const fragments = ["get_weather", "get_time"].reduce(
      (n, name) => n + Math.ceil(JSON.stringify(fakeToolArguments(name)).length / 5),
      0,
    );
    expect(events).toEqual([
      {
        type: "tool_call",
        call: {
          id: "call_fake0",
          type: "function",
          function: { name: "get_weather", arguments: JSON.stringify(fakeToolArguments("get_weather")) },
        },
      },
      {
        type: "tool_call",
        call: {
          id: "call_fake1",
          type: "function",
          function: { name: "get_time", arguments: JSON.stringify(fakeToolArguments("get_time")) },
        },
      },
      // The fake counts one completion token per streamed arguments fragment (5 characters each).
      { type: "done", finishReason: "tool_calls", promptTokens: 57, completionTokens: fragments },
    ]);
    expect(upstream.requests.at(-1)?.body).toEqual({
      model: "gpt-test",
      messages,
      tools: [
        { type: "function", function: weather },
        { type: "function", function: time },
      ],
      tool_choice: "required",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("sends tools and tool_choice upstream; the client gets message.tool_calls and finish_reason tool_calls", async () => {
    const res = await node.client.chat.completions.create({ model: "gpt-test", messages, tools, tool_choice: "auto" });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content ?? null).toBeNull();
    const calls = choice?.message.tool_calls ?? [];
    expect(calls.map((c) => (c.type === "function" ? c.function.name : c.type))).toEqual(["get_weather", "get_time"]);
    expect(calls.map((c) => c.id)).toEqual(["call_fake0", "call_fake1"]);
    expect(argsOf(calls[0])).toEqual({ tool: "get_weather", city: "Paris", days: 3, units: ["celsius", "kph"] });
    expect(argsOf(calls[1])).toEqual(fakeToolArguments("get_time"));
    const body = upstream.requests.at(-1)?.body;
    expect(body?.tools).toEqual(tools);
    expect(body?.tool_choice).toBe("auto");
  });

  it("sends a named tool_choice as {type: function, function: {name}}", async () => {
    const res = await node.client.chat.completions.create({
      model: "gpt-test",
      messages,
      tools,
      tool_choice: { type: "function", function: { name: "get_time" } },
    });
    expect(upstream.requests.at(-1)?.body.tool_choice).toEqual({ type: "function", function: { name: "get_time" } });
    const calls = res.choices[0]?.message.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    expect(calls[0]?.type === "function" ? calls[0].function.name : undefined).toBe("get_time");
    expect(argsOf(calls[0])).toEqual(fakeToolArguments("get_time"));
    expect(res.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("streams the calls to the client as delta.tool_calls with finish_reason tool_calls", async () => {
    const stream = await node.client.chat.completions.create({ model: "gpt-test", messages, tools, stream: true });
    const { calls, finish } = await streamedToolCalls(stream);
    expect(finish).toBe("tool_calls");
    expect(calls.map((c) => [c.id, c.name, JSON.parse(c.arguments) as unknown])).toEqual([
      ["call_fake0", "get_weather", fakeToolArguments("get_weather")],
      ["call_fake1", "get_time", fakeToolArguments("get_time")],
    ]);
  });

  it("sends history with assistant tool_calls (content null) and tool results with tool_call_id", async () => {
    const call = {
      id: "call_abc",
      type: "function" as const,
      function: { name: "get_weather", arguments: '{"city":"Paris"}' },
    };
    const res = await node.client.chat.completions.create({
      model: "gpt-test",
      messages: [
        ...messages,
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: "call_abc", content: '{"temp":21}' },
      ],
    });
    expect(res.choices[0]?.message.content).toBe(text);
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(upstream.requests.at(-1)?.body.messages).toEqual([
      { role: "user", content: "Weather and time in Paris?" },
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", content: '{"temp":21}', tool_call_id: "call_abc" },
    ]);
    expect(upstream.requests.at(-1)?.body).not.toHaveProperty("tools");
    expect(upstream.requests.at(-1)?.body).not.toHaveProperty("tool_choice");
  });

  it("drops tools for tool_choice none (plain text answer)", async () => {
    const res = await node.client.chat.completions.create({ model: "gpt-test", messages, tools, tool_choice: "none" });
    expect(res.choices[0]?.message.content).toBe(text);
    expect(res.choices[0]?.message.tool_calls ?? []).toEqual([]);
    expect(upstream.requests.at(-1)?.body).not.toHaveProperty("tools");
  });
});
