/**
 * POST /v1/completions (legacy text completions): `prompt` string or array, `n` choices per prompt,
 * choice index = prompt index × n + j, as OpenAI numbers them.
 */
import {
  type CompletionRequest,
  nowSeconds,
  randomId,
  sseData,
  stopList,
  type TextCompletion,
  usage,
} from "@jeju/compute-sdk/openai/index";
import { Hono } from "hono";
import type { AbortHandle, CompletionParams, GenerationResult } from "../backends/types.ts";
import { clientGone } from "../http/client.ts";
import { sseResponse, stopReason } from "../http/sse.ts";
import type { InferenceContext } from "./context.ts";
import { effectiveMaxTokens, markWorkStarted, parsedRequest } from "./request.ts";
import {
  collectGenerations,
  type FrameFormat,
  generateAll,
  type LabeledEvent,
  mergeGenerations,
  streamFrames,
} from "./generation.ts";

/** OpenAI's default `max_tokens` for text completions. */
const DEFAULT_MAX_TOKENS = 16;

export function completionsRoute(ctx: InferenceContext): Hono {
  const app = new Hono();

  app.post("/", async (c) => {
    const body = await parsedRequest(c, "completions", ctx.maxBodyBytes);
    const route = await ctx.registry.resolve(body.model);
    const deadline = ctx.inflight.begin(clientGone(c), ctx.requestTimeoutMs);
    const n = body.n ?? 1;
    const prompts = typeof body.prompt === "string" ? [body.prompt] : body.prompt;
    const base = completionParams(body, route.backendModel, deadline);
    const params: CompletionParams[] = [];
    for (const prompt of prompts) {
      for (let j = 0; j < n; j++) params.push({ ...base, prompt, choiceIndex: j });
    }
    const { backend } = route;
    const id = randomId("cmpl-");
    const created = nowSeconds();
    const echo = body.echo === true;
    markWorkStarted(c);

    if (body.stream !== true) {
      try {
        const choices = backend.completeOnce
          ? await generateAll((p: CompletionParams) => backend.completeOnce?.(p) as Promise<GenerationResult>, params)
          : await collectGenerations(params.map((p) => backend.complete(p)));
        let promptTokens = 0;
        let completionTokens = 0;
        choices.forEach((ch, i) => {
          if (i % n === 0) promptTokens += ch.promptTokens;
          completionTokens += ch.completionTokens;
        });
        const response: TextCompletion = {
          id,
          object: "text_completion",
          created,
          model: body.model,
          choices: choices.map((ch) => ({
            text: echo ? `${prompts[Math.floor(ch.index / n)] ?? ""}${ch.text}` : ch.text,
            index: ch.index,
            logprobs: null,
            finish_reason: ch.finishReason,
          })),
          usage: usage(promptTokens, completionTokens),
        };
        return c.json(response);
      } catch (err) {
        const reason = stopReason(err, deadline);
        deadline.abort(reason);
        throw reason;
      } finally {
        ctx.inflight.release(deadline);
      }
    }

    const events = mergeGenerations(params.map((p) => backend.complete(p)));
    let first: IteratorResult<LabeledEvent>;
    try {
      first = await events.next();
    } catch (err) {
      const reason = stopReason(err, deadline);
      deadline.abort(reason);
      ctx.inflight.release(deadline);
      throw reason;
    }
    const frames = streamFrames(
      ctx,
      deadline,
      first,
      events,
      completionFrames({
        id,
        created,
        model: body.model,
        n,
        total: params.length,
        prompts: echo ? prompts : undefined,
        includeUsage: body.stream_options?.include_usage === true,
      }),
    );
    return sseResponse(frames, (reason) => deadline.abort(reason), { flushMs: ctx.streamFlushMs });
  });

  return app;
}

function completionParams(
  body: CompletionRequest,
  model: string,
  abort: AbortHandle,
): Omit<CompletionParams, "choiceIndex" | "prompt"> {
  return {
    model,
    maxTokens: effectiveMaxTokens("completions", body) ?? DEFAULT_MAX_TOKENS,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    stop: stopList(body.stop),
    seed: body.seed ?? undefined,
    presencePenalty: body.presence_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    abort,
  };
}

type StreamMeta = {
  id: string;
  created: number;
  model: string;
  n: number;
  total: number;
  prompts: string[] | undefined;
  includeUsage: boolean;
};

function completionFrames(meta: StreamMeta): FrameFormat {
  const chunk = (index: number, text: string, finishReason: TextCompletion["choices"][number]["finish_reason"]) => {
    const payload: TextCompletion = {
      id: meta.id,
      object: "text_completion",
      created: meta.created,
      model: meta.model,
      choices: [{ text, index, logprobs: null, finish_reason: finishReason }],
    };
    if (meta.includeUsage) payload.usage = null;
    return sseData(payload);
  };
  const echoed = new Uint8Array(meta.total);
  let promptTokens = 0;
  let completionTokens = 0;
  return {
    label: "completion",
    frames({ index, event }) {
      const out: string[] = [];
      if (meta.prompts !== undefined && echoed[index] === 0) {
        echoed[index] = 1;
        out.push(chunk(index, meta.prompts[Math.floor(index / meta.n)] ?? "", null));
      }
      if (event.type === "text") {
        if (event.text !== "") out.push(chunk(index, event.text, null));
      } else if (event.type === "done") {
        if (index % meta.n === 0) promptTokens += event.promptTokens;
        completionTokens += event.completionTokens;
        out.push(chunk(index, "", event.finishReason));
      }
      return out;
    },
    usageFrame() {
      if (!meta.includeUsage) return undefined;
      const last: TextCompletion = {
        id: meta.id,
        object: "text_completion",
        created: meta.created,
        model: meta.model,
        choices: [],
        usage: usage(promptTokens, completionTokens),
      };
      return sseData(last);
    },
  };
}
