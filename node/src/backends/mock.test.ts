import { describe, expect, it } from "vitest";
import { MockBackend } from "./mock.ts";
import { chatParams } from "../testing/harness.ts";
import type { ChatParams, GenerationEvent, Message } from "./types.ts";

const params = (messages: Message[], extra: Partial<ChatParams> = {}): ChatParams =>
  chatParams("mock-model", messages, extra);

async function streamed(events: AsyncIterable<GenerationEvent>): Promise<string> {
  let text = "";
  for await (const e of events) if (e.type === "text") text += e.text;
  return text;
}

describe("MockBackend memo", () => {
  // Same length, same first and last 32 characters: the memo hash samples only those, so these two land
  // in one bucket and only the full comparison tells them apart.
  const head = "Tell me about the following thing, please: ";
  const tail = " -- and answer in one sentence, thank you kindly.";
  const a = `${head}${"x".repeat(40)}apples${"y".repeat(40)}${tail}`;
  const b = `${head}${"x".repeat(40)}pears!${"y".repeat(40)}${tail}`;

  it("answers colliding requests each with their own answer, as a fresh backend would", async () => {
    expect(a.length).toBe(b.length);
    const warm = new MockBackend();
    const first = await warm.chatOnce(params([{ role: "user", content: a }]));
    const second = await warm.chatOnce(params([{ role: "user", content: b }]));
    const again = await warm.chatOnce(params([{ role: "user", content: a }]));
    const freshB = await new MockBackend().chatOnce(params([{ role: "user", content: b }]));
    expect(second).toEqual(freshB);
    expect(second.text).not.toBe(first.text);
    expect(again).toEqual(first);
  });

  it("keys on every setting: temperature, seed, choice, stop, max tokens, role", async () => {
    const m = new MockBackend();
    const msgs: Message[] = [{ role: "user", content: a }];
    const base = await m.chatOnce(params(msgs));
    const variants = [
      params(msgs, { temperature: 0.5 }),
      params(msgs, { seed: 7 }),
      params(msgs, { choiceIndex: 1 }),
      params([{ role: "system", content: a }]),
    ];
    for (const p of variants) {
      const warm = await m.chatOnce(p);
      expect(warm).toEqual(await new MockBackend().chatOnce(p));
      expect(warm.text).not.toBe(base.text);
    }
    const limited = await m.chatOnce(params(msgs, { maxTokens: 3 }));
    expect(limited).toMatchObject({ text: "This is a", finishReason: "length", completionTokens: 3 });
    const stopped = await m.chatOnce(params(msgs, { stop: [" mock"] }));
    expect(stopped).toMatchObject({ text: "This is a", finishReason: "stop", completionTokens: 3 });
    // The memo did not leak the limited answers into the plain request.
    expect(await m.chatOnce(params(msgs))).toEqual(base);
  });

  it("streams the same text it answers at once, and a completion differs from a chat", async () => {
    const m = new MockBackend();
    const p = params([{ role: "user", content: "hello there" }]);
    const once = await m.chatOnce(p);
    expect(await streamed(m.chat(p))).toBe(once.text);
    const c = { ...p, prompt: "hello there" };
    const completion = await m.completeOnce(c);
    expect(await streamed(m.complete(c))).toBe(completion.text);
    expect(completion.promptTokens).toBe(2);
    expect(once.promptTokens).toBe(3 + 4 + 2);
  });
});
