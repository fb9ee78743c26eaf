/**
 * The embedded engine with the project's own tiny model (models/compute-tiny.gguf), through the node.
 * Skipped, with a message, only when the GGUF file is missing.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { cosineSimilarity } from "@jeju/compute-sdk/openai/index";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config.ts";
import { silentLogger } from "../logger.ts";
import { startTestNode, type TestNode } from "../testing/harness.ts";
import { LlamaCppBackend } from "./llamacpp.ts";

const MODEL_PATH = path.resolve(REPO_ROOT, process.env.MODEL_PATH ?? "models/compute-tiny.gguf");
const present = existsSync(MODEL_PATH);
if (!present)
  console.warn(`llamacpp tests skipped: ${MODEL_PATH} is missing (the tiny model is built by models/train)`);

describe.skipIf(!present)("llamacpp backend (embedded model)", () => {
  let backend: LlamaCppBackend;
  let node: TestNode;
  const model = path.basename(MODEL_PATH, ".gguf");

  beforeAll(async () => {
    backend = await LlamaCppBackend.load({ modelPath: MODEL_PATH, log: silentLogger, sequences: 2 });
    node = await startTestNode([backend]);
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await backend?.close();
  });

  it("serves the model under its file name", async () => {
    const ids = (await node.client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual([model]);
  });

  it("chats with real text and usage from the model's tokenizer", async () => {
    const messages = [
      { role: "system" as const, content: "You are a helpful assistant." },
      { role: "user" as const, content: "Explain quantum computing in simple terms." },
    ];
    const res = await node.client.chat.completions.create({
      model,
      messages,
      max_tokens: 24,
      seed: 1,
      temperature: 0.7,
    });
    const text = res.choices[0]?.message.content ?? "";
    expect(text.trim().length).toBeGreaterThan(0);
    expect(res.usage?.prompt_tokens).toBe(backend.chatPromptTokens(messages));
    expect(res.usage?.completion_tokens).toBeGreaterThan(0);
    expect(res.usage?.completion_tokens).toBeLessThanOrEqual(24);
    if (res.choices[0]?.finish_reason === "length") expect(res.usage?.completion_tokens).toBe(24);
  });

  it("answers in JSON that follows the request's JSON Schema (grammar-constrained), and JSON mode starts an object", async () => {
    const schema = {
      type: "object",
      properties: { answer: { type: "string", enum: ["yes", "no"] }, confidence: { type: "number" } },
      required: ["answer", "confidence"],
      additionalProperties: false,
    };
    const messages = [{ role: "user" as const, content: "Is the sky blue? Answer in JSON." }];
    const res = await node.client.chat.completions.create({
      model,
      messages,
      max_tokens: 64,
      temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "verdict", schema, strict: true } },
    });
    expect(res.choices[0]?.finish_reason).toBe("stop");
    const parsed = JSON.parse(res.choices[0]?.message.content ?? "") as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(["answer", "confidence"]);
    expect(["yes", "no"]).toContain(parsed.answer);
    expect(typeof parsed.confidence).toBe("number");

    // JSON mode: the grammar admits any JSON value of object type; the tiny model may run out of tokens inside
    // it, but what it says is JSON from the first character, and complete JSON when it stops by itself.
    const free = await node.client.chat.completions.create({
      model,
      messages,
      max_tokens: 48,
      temperature: 0,
      response_format: { type: "json_object" },
    });
    const text = free.choices[0]?.message.content ?? "";
    expect(text.trimStart().startsWith("{")).toBe(true);
    if (free.choices[0]?.finish_reason === "stop") expect(() => JSON.parse(text)).not.toThrow();
  });

  it("makes a required tool call whose arguments follow the tool's schema (grammar-constrained); auto answers in text", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: {
            type: "object",
            properties: { city: { type: "string", enum: ["Paris", "Rome"] } },
            required: ["city"],
          },
        },
      },
      { type: "function" as const, function: { name: "get_time", parameters: { type: "object", properties: {} } } },
    ];
    const messages = [{ role: "user" as const, content: "What is the weather in Rome?" }];
    const res = await node.client.chat.completions.create({
      model,
      messages,
      tools,
      tool_choice: { type: "function", function: { name: "get_weather" } },
      max_tokens: 64,
      temperature: 0,
    });
    expect(res.choices[0]?.finish_reason).toBe("tool_calls");
    const fn = (
      res.choices[0]?.message.tool_calls?.[0] as { function: { name: string; arguments: string } } | undefined
    )?.function;
    expect(fn?.name).toBe("get_weather");
    expect(["Paris", "Rome"]).toContain((JSON.parse(fn?.arguments ?? "{}") as { city?: string }).city);

    const any = await node.client.chat.completions.create({
      model,
      messages,
      tools,
      tool_choice: "required",
      max_tokens: 64,
      temperature: 0,
    });
    expect(any.choices[0]?.finish_reason).toBe("tool_calls");
    expect(["get_weather", "get_time"]).toContain(
      (any.choices[0]?.message.tool_calls?.[0] as { function: { name: string } } | undefined)?.function.name,
    );

    const auto = await node.client.chat.completions.create({ model, messages, tools, max_tokens: 8, temperature: 0 });
    expect(auto.choices[0]?.message.tool_calls).toBeUndefined();
    expect(auto.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it("completes raw text; prompt tokens equal the tokenizer's count, max_tokens honoured", async () => {
    const prompt = "In the beginning God created";
    const res = await node.client.completions.create({ model, prompt, max_tokens: 8, temperature: 0 });
    expect(res.usage?.prompt_tokens).toBe(backend.completionPromptTokens(prompt));
    expect(res.usage?.prompt_tokens).toBe(backend.model.tokenize(prompt, false, "trimLeadingSpace").length + 1);
    expect(res.usage?.completion_tokens).toBeLessThanOrEqual(8);
    expect((res.choices[0]?.text ?? "").length).toBeGreaterThan(0);
  });

  it("streams the same greedy text it returns without streaming", async () => {
    const req = { model, prompt: "And the earth was", max_tokens: 16, temperature: 0 };
    const plain = await node.client.completions.create(req);
    const stream = await node.client.completions.create({
      ...req,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let completionTokens = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    expect(text).toBe(plain.choices[0]?.text);
    expect(completionTokens).toBe(plain.usage?.completion_tokens);
  });

  it("stops generating when the client aborts, and keeps serving", async () => {
    const controller = new AbortController();
    const stream = await node.client.completions.create(
      { model, prompt: "Then", max_tokens: 200, temperature: 0.8, stream: true },
      { signal: controller.signal },
    );
    try {
      for await (const chunk of stream) if (chunk.choices[0]?.text) controller.abort();
    } catch {
      // aborted
    }
    const after = await node.client.completions.create({ model, prompt: "Then", max_tokens: 4 });
    expect(after.choices).toHaveLength(1);
  });

  it("embeds: related sentences score closer than unrelated ones; usage from the tokenizer", async () => {
    const input = [
      "And God said, Let there be light: and there was light.",
      "God said let there be light, and there was light.",
      "The sons of Reuben, the firstborn of Israel, by their families.",
    ];
    const res = await node.client.embeddings.create({ model, input, encoding_format: "float" });
    const [a, b, c] = res.data.map((d) => d.embedding);
    expect(a?.length).toBe(backend.model.embeddingVectorSize);
    expect(cosineSimilarity(a ?? [], b ?? [])).toBeGreaterThan(cosineSimilarity(a ?? [], c ?? []));
    expect(res.usage.prompt_tokens).toBeGreaterThanOrEqual(
      input.reduce((s, t) => s + backend.model.tokenize(t).length, 0),
    );
    const short = await node.client.embeddings.create({
      model,
      input: "light",
      dimensions: 8,
      encoding_format: "float",
    });
    expect(short.data[0]?.embedding).toHaveLength(8);
  });
});
