/**
 * POST /v1/chat/completions
 */
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  invalidRequestError,
  messageText,
  nowSeconds,
  randomId,
  sseData,
  stopList,
  usage,
} from "@jeju/compute-sdk/openai/index";
import { Hono } from "hono";
import type {
  AbortHandle,
  ChatParams,
  GenerationResult,
  Message,
  ResponseFormat,
  ToolChoice,
  ToolSpec,
} from "../backends/types.ts";
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

export function chatCompletionsRoute(ctx: InferenceContext): Hono {
  const app = new Hono();

  app.post("/", async (c) => {
    const body = await parsedRequest(c, "chat", ctx.maxBodyBytes);
    const route = await ctx.registry.resolve(body.model);
    const deadline = ctx.inflight.begin(clientGone(c), ctx.requestTimeoutMs);
    const n = body.n ?? 1;
    let base: ChatParams;
    try {
      base = chatParams(body, route.backendModel, deadline);
    } catch (err) {
      ctx.inflight.release(deadline);
      throw err;
    }
    const params: ChatParams[] = [base];
    for (let choiceIndex = 1; choiceIndex < n; choiceIndex++) params.push({ ...base, choiceIndex });
    const { backend } = route;
    const id = randomId("chatcmpl-");
    const created = nowSeconds();
    markWorkStarted(c);

    if (body.stream !== true) {
      try {
        const choices = backend.chatOnce
          ? await generateAll((p: ChatParams) => backend.chatOnce?.(p) as Promise<GenerationResult>, params)
          : await collectGenerations(params.map((p) => backend.chat(p)));
        let completionTokens = 0;
        for (const ch of choices) completionTokens += ch.completionTokens;
        const response: ChatCompletion = {
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: choices.map((ch) => ({
            index: ch.index,
            message:
              ch.toolCalls.length > 0
                ? {
                    role: "assistant",
                    content: ch.text === "" ? null : ch.text,
                    refusal: null,
                    tool_calls: ch.toolCalls,
                  }
                : { role: "assistant", content: ch.text, refusal: null },
            logprobs: null,
            finish_reason: ch.finishReason,
          })),
          usage: usage(choices[0]?.promptTokens ?? 0, completionTokens),
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

    // Streaming: wait for the first event so a backend that is down still gets a proper HTTP status.
    const events = mergeGenerations(params.map((p) => backend.chat(p)));
    let first: IteratorResult<LabeledEvent>;
    try {
      first = await events.next();
    } catch (err) {
      const reason = stopReason(err, deadline);
      deadline.abort(reason);
      ctx.inflight.release(deadline);
      throw reason;
    }
    const includeUsage = body.stream_options?.include_usage === true;
    const frames = streamFrames(
      ctx,
      deadline,
      first,
      events,
      chatFrames({ id, created, model: body.model, n, includeUsage }),
    );
    return sseResponse(frames, (reason) => deadline.abort(reason), { flushMs: ctx.streamFlushMs });
  });

  return app;
}

/** The generation parameters of choice 0 (the other choices differ only in `choiceIndex`). */
function chatParams(body: ChatCompletionRequest, model: string, abort: AbortHandle): ChatParams {
  const messages: Message[] = body.messages.map((m) => {
    const role = m.role === "developer" ? "system" : m.role;
    if (m.tool_calls === undefined && m.tool_call_id === undefined) return { role, content: messageText(m) };
    const msg: Message = { role, content: messageText(m) };
    if (m.tool_calls !== undefined && m.tool_calls.length > 0) msg.toolCalls = m.tool_calls;
    if (m.tool_call_id !== undefined) msg.toolCallId = m.tool_call_id;
    return msg;
  });
  const params: ChatParams = {
    model,
    messages,
    maxTokens: effectiveMaxTokens("chat", body),
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    stop: stopList(body.stop),
    seed: body.seed ?? undefined,
    presencePenalty: body.presence_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    choiceIndex: 0,
    abort,
  };
  // Set only when asked for (most requests): object spreads here would cost every request.
  if (body.response_format != null) {
    const rf = responseFormat(body);
    if (rf !== undefined) params.responseFormat = rf;
  }
  if (body.tools != null) {
    const t = toolsOf(body);
    if (t !== undefined) {
      params.tools = t.tools;
      params.toolChoice = t.toolChoice;
    }
  }
  return params;
}

/** The request's tools, unless there are none or tool_choice is "none" (then the model answers in text). */
function toolsOf(body: ChatCompletionRequest): { tools: ToolSpec[]; toolChoice: ToolChoice } | undefined {
  if (body.tools == null || body.tools.length === 0 || body.tool_choice === "none") return undefined;
  const tools = body.tools.map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined ? { description: t.function.description } : {}),
    ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
  }));
  const choice = body.tool_choice;
  let toolChoice: ToolChoice = "auto";
  if (choice === "required") toolChoice = "required";
  else if (typeof choice === "object" && choice !== null) {
    const name = choice.function.name;
    if (!tools.some((t) => t.name === name)) {
      throw invalidRequestError(
        `Invalid value for 'tool_choice': no tool named '${name}' in 'tools'.`,
        "tool_choice",
        "invalid_value",
      );
    }
    toolChoice = { name };
  }
  return { tools, toolChoice };
}

function responseFormat(body: ChatCompletionRequest): ResponseFormat | undefined {
  const rf = body.response_format;
  if (rf == null || rf.type === "text") return undefined;
  // OpenAI: a json_schema format without a schema accepts any JSON object.
  if (rf.type === "json_object" || rf.json_schema.schema === undefined) return { type: "json_object" };
  const strict = rf.json_schema.strict === true ? { strict: true } : {};
  return { type: "json_schema", name: rf.json_schema.name, schema: rf.json_schema.schema, ...strict };
}

type StreamMeta = { id: string; created: number; model: string; n: number; includeUsage: boolean };

function chatFrames(meta: StreamMeta): FrameFormat {
  const chunk = (
    index: number,
    delta: ChatCompletionChunk["choices"][number]["delta"],
    finishReason: ChatCompletionChunk["choices"][number]["finish_reason"],
  ): string => {
    const payload: ChatCompletionChunk = {
      id: meta.id,
      object: "chat.completion.chunk",
      created: meta.created,
      model: meta.model,
      choices: [{ index, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (meta.includeUsage) payload.usage = null;
    return sseData(payload);
  };
  const started = new Uint8Array(meta.n);
  const callsSoFar = new Array<number>(meta.n).fill(0);
  let promptTokens = 0;
  let completionTokens = 0;
  return {
    label: "chat",
    frames({ index, event }) {
      const out: string[] = [];
      if (started[index] === 0) {
        started[index] = 1;
        out.push(chunk(index, { role: "assistant", content: "" }, null));
      }
      if (event.type === "text") {
        if (event.text !== "") out.push(chunk(index, { content: event.text }, null));
      } else if (event.type === "tool_call") {
        // One delta carries the whole call (OpenAI may split `arguments` over many; clients concatenate either way).
        const k = callsSoFar[index] ?? 0;
        callsSoFar[index] = k + 1;
        out.push(chunk(index, { tool_calls: [{ index: k, ...event.call }] }, null));
      } else {
        promptTokens = event.promptTokens;
        completionTokens += event.completionTokens;
        out.push(chunk(index, {}, event.finishReason));
      }
      return out;
    },
    usageFrame() {
      if (!meta.includeUsage) return undefined;
      const last: ChatCompletionChunk = {
        id: meta.id,
        object: "chat.completion.chunk",
        created: meta.created,
        model: meta.model,
        choices: [],
        usage: usage(promptTokens, completionTokens),
      };
      return sseData(last);
    },
  };
}
