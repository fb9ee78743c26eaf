import { describe, expect, it } from "vitest";
import { chatCompletionRequestSchema, parseChatRequest, parseRequest } from "./schemas.ts";

/** What zod says about a body: the parsed value, or the error's JSON (what the client would see). */
function viaZod(body: unknown): unknown {
  try {
    return { ok: parseRequest(chatCompletionRequestSchema, body) };
  } catch (err) {
    return { err: (err as { toJSON(): unknown }).toJSON() };
  }
}
function viaFastPath(body: unknown): unknown {
  try {
    return { ok: parseChatRequest(body) };
  } catch (err) {
    return { err: (err as { toJSON(): unknown }).toJSON() };
  }
}

const user = { role: "user", content: "hi" };
const bodies: Array<[string, unknown]> = [
  ["minimal", { model: "m", messages: [user] }],
  [
    "all fast fields",
    {
      model: "m",
      messages: [{ role: "system", content: "s" }, user, { role: "assistant", content: null }],
      temperature: 0.7,
      top_p: 1,
      n: 2,
      max_tokens: 5,
      max_completion_tokens: 6,
      stream: true,
      user: "u",
      presence_penalty: -2,
      frequency_penalty: 2,
    },
  ],
  [
    "nulls",
    {
      model: "m",
      messages: [user],
      temperature: null,
      top_p: null,
      n: null,
      max_tokens: null,
      stream: null,
    },
  ],
  [
    "named message",
    {
      model: "m",
      messages: [{ role: "tool", content: "x", name: "n", tool_call_id: "t" }],
    },
  ],
  [
    "zod-only fields",
    {
      model: "m",
      messages: [user],
      stop: ["\n"],
      seed: 1,
      stream_options: { include_usage: true },
    },
  ],
  [
    "content parts",
    {
      model: "m",
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    },
  ],
  ["empty model", { model: "", messages: [user] }],
  ["no messages", { model: "m", messages: [] }],
  ["missing model", { messages: [user] }],
  ["bad role", { model: "m", messages: [{ role: "robot", content: "x" }] }],
  ["missing role", { model: "m", messages: [{ content: "x" }] }],
  ["temperature too high", { model: "m", messages: [user], temperature: 2.5 }],
  ["top_p negative", { model: "m", messages: [user], top_p: -0.1 }],
  ["n zero", { model: "m", messages: [user], n: 0 }],
  ["n fractional", { model: "m", messages: [user], n: 1.5 }],
  ["max_tokens zero", { model: "m", messages: [user], max_tokens: 0 }],
  ["max_tokens string", { model: "m", messages: [user], max_tokens: "5" }],
  ["stream string", { model: "m", messages: [user], stream: "yes" }],
  ["user number", { model: "m", messages: [user], user: 5 }],
  ["unknown key", { model: "m", messages: [user], logit_bias: { "1": 2 } }],
  ["not an object", [user]],
  ["null", null],
];

describe("parseChatRequest fast path", () => {
  for (const [name, body] of bodies) {
    it(`agrees with the zod schema: ${name}`, () => {
      expect(viaFastPath(body)).toEqual(viaZod(body));
    });
  }
});
