import { describe, expect, it } from "vitest";
import { decodeFloat32Base64, encodeFloat32Base64, truncateAndNormalize } from "./embeddings.ts";
import { OpenAIError } from "./errors.ts";
import { chatCompletionRequestSchema, embeddingRequestSchema, parseRequest } from "./schemas.ts";
import { readNDJSON, readSSE } from "./sse.ts";

function streamOf(...parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

function parseError(schema: Parameters<typeof parseRequest>[0], input: unknown): OpenAIError {
  try {
    parseRequest(schema, input);
  } catch (err) {
    if (err instanceof OpenAIError) return err;
  }
  throw new Error("expected an OpenAIError");
}

describe("request schemas", () => {
  it("names nested params the way OpenAI does", () => {
    const err = parseError(chatCompletionRequestSchema, { model: "m", messages: [{ role: "user", content: 5 }] });
    expect(err.toJSON().error).toMatchObject({
      param: "messages.[0].content",
      code: "invalid_type",
      type: "invalid_request_error",
    });
    expect(err.status).toBe(400);
  });

  it("reports a missing parameter", () => {
    const err = parseError(embeddingRequestSchema, { model: "m" });
    expect(err.toJSON().error).toEqual({
      message: "Missing required parameter: 'input'.",
      type: "invalid_request_error",
      param: "input",
      code: "missing_required_parameter",
    });
  });

  it("keeps known fields and drops unknown ones", () => {
    const ok = parseRequest(chatCompletionRequestSchema, {
      model: "m",
      messages: [{ role: "user", content: "x" }],
      logit_bias: { 1: 2 },
      stop: null,
    });
    expect(ok).toEqual({ model: "m", messages: [{ role: "user", content: "x" }], stop: null });
  });
});

describe("embedding encodings", () => {
  it("base64 is little-endian float32", () => {
    const v = [1, -2.5, 0.125];
    const b64 = encodeFloat32Base64(v);
    expect(Buffer.from(b64, "base64")).toEqual(Buffer.from(new Float32Array(v).buffer));
    expect(decodeFloat32Base64(b64)).toEqual(v);
  });

  it("truncates and renormalises", () => {
    expect(truncateAndNormalize([3, 4, 12], 2)).toEqual([0.6, 0.8]);
  });
});

describe("stream readers", () => {
  it("reads SSE events split across chunks, skipping comments", async () => {
    const events = [];
    for await (const e of readSSE(streamOf(": ping\n\nda", 'ta: {"a":1}\n', "\ndata: [DONE]\n\n"))) events.push(e.data);
    expect(events).toEqual(['{"a":1}', "[DONE]"]);
  });

  it("reads NDJSON lines split across chunks", async () => {
    const lines = [];
    for await (const l of readNDJSON(streamOf('{"a":', '1}\n{"b":2}\n', '{"c":3}'))) lines.push(l);
    expect(lines).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });
});
