/**
 * What chat and text completions share: running `n` generations, merged for streaming or collected
 * for a plain response.
 */
import { type FinishReason, SSE_DONE, sseData, toOpenAIError } from "@jeju/compute-sdk/openai/index";
import type { GenerationEvent, GenerationResult, ToolCall } from "../backends/types.ts";
import type { RequestDeadline } from "../http/deadline.ts";
import { stopReason } from "../http/sse.ts";
import type { InferenceContext } from "./context.ts";

export type LabeledEvent = { index: number; event: GenerationEvent };

/** Shared by every answer without tool calls (one allocation less per request). */
const NO_CALLS: ToolCall[] = Object.freeze([]) as unknown as ToolCall[];

export type CollectedChoice = {
  index: number;
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
};

/** Interleave several generations as their events arrive, each labelled with its choice index. */
export async function* mergeGenerations(gens: readonly AsyncIterable<GenerationEvent>[]): AsyncGenerator<LabeledEvent> {
  if (gens.length === 1) {
    const only = gens[0];
    if (only === undefined) return;
    for await (const event of only) yield { index: 0, event };
    return;
  }
  const iterators = gens.map((g) => g[Symbol.asyncIterator]());
  type Step = { index: number; result: IteratorResult<GenerationEvent> };
  const pending = new Map<number, Promise<Step>>();
  const arm = (index: number) => {
    const it = iterators[index];
    if (it !== undefined)
      pending.set(
        index,
        it.next().then((result) => ({ index, result })),
      );
  };
  for (let i = 0; i < iterators.length; i++) arm(i);
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      arm(index);
      yield { index, event: result.value };
    }
  } finally {
    // Close generations still running (an error in one, or the consumer stopped early).
    await Promise.allSettled(
      [...pending.keys()].map((i) => {
        pending.get(i)?.catch(() => {});
        return iterators[i]?.return?.();
      }),
    );
  }
}

/** Run `n` generations through a backend's non-streaming fast path. */
export async function generateAll<P extends { choiceIndex: number }>(
  once: (params: P) => Promise<GenerationResult>,
  params: readonly P[],
): Promise<CollectedChoice[]> {
  if (params.length === 1 && params[0] !== undefined) return [choice(await once(params[0]), 0)];
  return (await Promise.all(params.map(once))).map(choice);
}

function choice(r: GenerationResult, index: number): CollectedChoice {
  return {
    index,
    text: r.text,
    toolCalls: r.toolCalls ?? NO_CALLS,
    finishReason: r.finishReason,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
  };
}

/** Run generations to the end and gather each choice's text and counts. */
export async function collectGenerations(gens: readonly AsyncIterable<GenerationEvent>[]): Promise<CollectedChoice[]> {
  if (gens.length === 1 && gens[0] !== undefined) return [await collectOne(gens[0], 0)];
  return Promise.all(gens.map(collectOne));
}

async function collectOne(gen: AsyncIterable<GenerationEvent>, index: number): Promise<CollectedChoice> {
  let text = "";
  const toolCalls: ToolCall[] = [];
  for await (const event of gen) {
    if (event.type === "text") text += event.text;
    else if (event.type === "tool_call") toolCalls.push(event.call);
    else {
      return {
        index,
        text,
        toolCalls,
        finishReason: event.finishReason,
        promptTokens: event.promptTokens,
        completionTokens: event.completionTokens,
      };
    }
  }
  throw new Error("backend ended a generation without a done event");
}

/** How one endpoint (chat or text completions) turns generation events into SSE frames. */
export type FrameFormat = {
  /** For log lines: `chat`, `completion`. */
  label: string;
  /** The frames for one event, in order (a role or echo chunk first, then the delta or the finish). */
  frames(step: LabeledEvent): string[];
  /** The usage-only chunk after the last event, when the client asked for one. */
  usageFrame(): string | undefined;
};

/**
 * The SSE frames of a streamed response: each event's frames, the usage chunk, `[DONE]`; a failure
 * mid-stream becomes an OpenAI error frame. Releases the request when the stream ends, however it ends,
 * and aborts generation when the client went away before the end.
 */
export async function* streamFrames(
  ctx: InferenceContext,
  deadline: RequestDeadline,
  first: IteratorResult<LabeledEvent>,
  events: AsyncGenerator<LabeledEvent>,
  format: FrameFormat,
): AsyncGenerator<string> {
  let finished = false;
  try {
    let step = first;
    while (step.done !== true) {
      for (const frame of format.frames(step.value)) yield frame;
      step = await events.next();
    }
    const usageFrame = format.usageFrame();
    if (usageFrame !== undefined) yield usageFrame;
    finished = true;
    yield SSE_DONE;
  } catch (err) {
    const error = toOpenAIError(stopReason(err, deadline));
    if (error.status >= 500) ctx.log.warn({ err, code: error.code }, `${format.label} stream failed`);
    finished = true;
    yield sseData(error.toJSON());
  } finally {
    if (!finished) deadline.abort(new Error("stream closed"));
    ctx.inflight.release(deadline);
    await events.return(undefined);
  }
}
