/**
 * A2A (Agent-to-Agent) front-end of the node:
 *
 *   POST /a2a                              two wire formats, told apart by the body:
 *     - `{"jsonrpc":"2.0",…}`              standard A2A over JSON-RPC, served by the official @a2a-js/sdk
 *                                          (protocol 1.0, the SDK's default: `SendMessage`, `GetTask`, …;
 *                                          and 0.3 through the SDK's compat layer: `message/send`, `tasks/get`)
 *     - `{"type":"task","task":{skill,parameters}}`   the product docs' simple format, answered with
 *                                          `{"type":"task_result","task":{id,skill,status,result|error}}`
 *   GET  /.well-known/agent-card.json      the agent card (also under /a2a/.well-known/agent-card.json)
 *
 * Skills are thin translations to one call of this node's own API (see internal.ts), so an agent gets the
 * same answers, errors, prices and payment checks as an HTTP client. A request finishes in one API call, so
 * tasks are created already terminal; streaming requests (`SendStreamingMessage`, 0.3 `message/stream`) are
 * answered as SSE, and their inference streams the reply token by token (artifact updates) from the chat API's
 * own stream.
 */
import { randomUUID } from "node:crypto";
import {
  A2A_PROTOCOL_VERSION,
  A2A_VERSION_HEADER,
  AgentCard,
  type AgentSkill,
  type Artifact,
  Extensions,
  HTTP_EXTENSION_HEADER,
  type Message,
  type Part,
  Role,
  type Task,
  TaskState,
} from "@a2a-js/sdk";
import { duplicateInterfacesForLegacy, isLegacyJsonRpcMethod } from "@a2a-js/sdk/compat/v0_3";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { TaskNotCancelableError } from "@a2a-js/sdk/errors";
import {
  AgentEvent,
  type AgentExecutor,
  DefaultExecutionEventBusManager,
  DefaultRequestHandler,
  defaultServerCallContextBuilder,
  type ExecutionEventBus,
  InMemoryTaskStore,
  JsonRpcTransportHandler,
  type RequestContext,
  type RequestHeaders,
  STATE_HEADERS_KEY,
  type TaskStore,
  UnauthenticatedUser,
  validateVersion,
} from "@a2a-js/sdk/server";
import { readJsonLimited } from "../openai/body.ts";
import { internalError, invalidRequestError, OpenAIError } from "../openai/index.ts";
import { type Context, Hono } from "hono";
import {
  type AgentDeps,
  errorMessage,
  type NodeCall,
  type NodeCallRequest,
  type NodeCallResult,
  type NodeStream,
  withHeaders,
} from "./internal.ts";

/**
 * Bound on what /a2a reads before parsing. The inner API route applies the node's configured body limit to
 * the forwarded parameters; this only keeps a huge envelope from being buffered first.
 */
const MAX_A2A_BODY_BYTES = 16 * 1024 * 1024;

/** JSON-RPC methods answered as an SSE stream of events (1.0, and 0.3 through the compat layer). */
const STREAM_METHODS = new Set(["SendStreamingMessage", "message/stream"]);
/**
 * Call-context state key: this request streams (an AbortController, aborted when its SSE reader goes away), so
 * the inference skill publishes tokens as they come and stops the generation when nobody reads them.
 */
const STREAM_KEY = "compute.a2a.stream";

/** Answer headers worth copying from the inner call: x402's quote and settlement receipts. */
const PAYMENT_HEADERS = ["payment-required", "payment-response", "x-payment-response"] as const;

/** The OpenAI error object `{message,type,param,code}`; `data` carries a 402's quote / payment body. */
export type SkillError = { message: string; type: string; param: string | null; code: string | null; data?: unknown };

type SkillOutcome =
  | { ok: true; result: unknown; headers?: Headers }
  | { ok: false; status: number; error: SkillError; headers?: Headers };

type Skill = {
  card: Omit<AgentSkill, "inputModes" | "outputModes" | "securityRequirements">;
  /** Marketplace skills need the chain services (the routes are not mounted without them). */
  needsChain: boolean;
  request(parameters: Record<string, unknown>): NodeCallRequest | SkillOutcome;
};

const SKILLS: readonly Skill[] = [
  {
    card: {
      id: "inference",
      name: "Inference",
      description:
        "Chat completion (OpenAI /v1/chat/completions, non-streaming) on a model served here: a node's own models, or at the marketplace gateway any provider's, routed to the cheapest live one. Parameters are an OpenAI chat request: model, messages, max_tokens, temperature, … A plain text message is answered by the first model listed.",
      tags: ["inference", "llm", "chat", "openai"],
      examples: [
        '{"skill":"inference","parameters":{"model":"llama2","messages":[{"role":"user","content":"Analyze this market data..."}]}}',
        "Explain quantum computing in simple terms.",
      ],
    },
    needsChain: false,
    // The A2A answer is one JSON result, so a `stream: true` in the parameters is overridden.
    request: (p) => ({ method: "POST", path: "/v1/chat/completions", body: { ...p, stream: false } }),
  },
  {
    card: {
      id: "embed",
      name: "Embeddings",
      description:
        "Embedding vectors for one or more texts (OpenAI /v1/embeddings). Parameters: model, input, dimensions, encoding_format.",
      tags: ["embeddings", "vectors", "openai"],
      examples: ['{"skill":"embed","parameters":{"model":"llama2","input":"The food was delicious."}}'],
    },
    needsChain: false,
    request: (p) => ({ method: "POST", path: "/v1/embeddings", body: p }),
  },
  {
    card: {
      id: "rent_compute",
      name: "Rent compute",
      description:
        "Open a GPU rental session in the Compute marketplace (POST /v1/sessions; parameters: providerId, durationHours, sshPublicKey, gpuCount, paymentToken). Without a payment the answer is a 402 carrying the exact price quote and how to pay (on-chain or a gasless authorization) in error.data.",
      tags: ["marketplace", "gpu", "rental", "payments"],
      examples: [
        '{"skill":"rent_compute","parameters":{"providerId":"0x…","durationHours":1,"gpuCount":1,"sshPublicKey":"ssh-ed25519 AAAA…"}}',
      ],
    },
    needsChain: true,
    request: (p) => ({ method: "POST", path: "/v1/sessions", body: p }),
  },
  {
    card: {
      id: "list_providers",
      name: "List providers",
      description:
        "Providers in the Compute marketplace (GET /v1/providers); parameters are its query filters: model, minGpus, minAvailableGpus, tee, maxPrice, token, sort, limit, offset, active.",
      tags: ["marketplace", "providers", "discovery"],
      examples: ['{"skill":"list_providers","parameters":{"model":"llama2","sort":"price","limit":10}}'],
    },
    needsChain: true,
    request: (p) => {
      const q = new URLSearchParams();
      for (const [key, v] of Object.entries(p)) {
        if (v === undefined || v === null) continue;
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
          return failure(
            invalidRequestError(`list_providers filter \`${key}\` must be a string, number or boolean.`, key),
          );
        }
        q.set(key, String(v));
      }
      const qs = q.toString();
      return { method: "GET", path: `/v1/providers${qs ? `?${qs}` : ""}` };
    },
  },
];

const SKILL_IDS = SKILLS.map((s) => s.card.id);

type StoreContext = Parameters<InMemoryTaskStore["load"]>[1];

/**
 * The SDK's in-memory task store, bounded: tasks live in two generations of `generation` tasks each, so a
 * long-running node keeps the recent ones readable (GetTask) without growing forever.
 */
export class RecentTaskStore implements TaskStore {
  #current = new InMemoryTaskStore();
  #previous = new InMemoryTaskStore();
  #ids = new Set<string>();

  constructor(readonly generation = 1000) {}

  async save(task: Task, context: StoreContext): Promise<void> {
    if (!this.#ids.has(task.id)) {
      if (this.#ids.size >= this.generation) {
        this.#previous = this.#current;
        this.#current = new InMemoryTaskStore();
        this.#ids = new Set();
      }
      this.#ids.add(task.id);
    }
    await this.#current.save(task, context);
  }

  async load(taskId: string, context: StoreContext): Promise<Task | undefined> {
    return (await this.#current.load(taskId, context)) ?? (await this.#previous.load(taskId, context));
  }

  /** Lists the current generation (the most recent tasks). */
  list(...args: Parameters<InMemoryTaskStore["list"]>): ReturnType<InMemoryTaskStore["list"]> {
    return this.#current.list(...args);
  }
}

export function a2aRoutes(deps: AgentDeps): Hono {
  const app = new Hono();
  // Shared by every JSON-RPC request: tasks stay readable with GetTask after the SendMessage that made them.
  const taskStore = new RecentTaskStore();
  const eventBuses = new DefaultExecutionEventBusManager();
  const executor = skillExecutor(deps);

  const card = (c: Context) => c.json(AgentCard.toJSON(agentCard(deps, new URL(c.req.url).origin)));
  app.get("/.well-known/agent-card.json", card);
  app.get("/a2a/.well-known/agent-card.json", card);

  app.post("/a2a", async (c) => {
    // Malformed JSON and oversize bodies throw OpenAIErrors (400 / 413) that the app's onError answers.
    const body = await readJsonLimited(c.req.raw, MAX_A2A_BODY_BYTES);
    if (isRecord(body) && body.jsonrpc === "2.0") {
      // A handler per request, because the card it checks versions against carries this request's origin;
      // the store and buses are shared.
      const card = agentCard(deps, new URL(c.req.url).origin);
      const handler = new DefaultRequestHandler(card, taskStore, executor, eventBuses);
      return jsonRpc(c, deps, handler, body);
    }
    if (isRecord(body) && body.type === "task") return simpleTask(c, deps, body);
    throw invalidRequestError(
      'POST /a2a takes an A2A JSON-RPC 2.0 request ({"jsonrpc":"2.0","method":"SendMessage",…}) or a task ({"type":"task","task":{"skill":…,"parameters":{…}}}).',
      null,
      "invalid_a2a_request",
    );
  });

  return app;
}

// ---------------------------------------------------------------------------------------------------------
// The docs' simple format.

async function simpleTask(c: Context, deps: AgentDeps, body: Record<string, unknown>): Promise<Response> {
  const task = body.task;
  if (!isRecord(task)) throw invalidRequestError("`task` must be an object: {skill, parameters}.", "task");
  if (typeof task.skill !== "string") {
    throw invalidRequestError(`\`task.skill\` must be one of: ${SKILL_IDS.join(", ")}.`, "task.skill");
  }
  const skill = task.skill;
  const id = randomUUID();
  const call = withHeaders(deps.call, (n) => c.req.header(n));
  const outcome = await runSkill(deps, call, skill, task.parameters);
  for (const name of PAYMENT_HEADERS) {
    const v = outcome.headers?.get(name);
    if (v) c.header(name, v);
  }
  if (outcome.ok) {
    return c.json({ type: "task_result", task: { id, skill, status: "completed", result: outcome.result } });
  }
  const failed = { type: "task_result", task: { id, skill, status: "failed", error: outcome.error } };
  return c.json(failed, outcome.status as 400);
}

// ---------------------------------------------------------------------------------------------------------
// Standard A2A (JSON-RPC 2.0), v1.0 as the SDK speaks it.

async function jsonRpc(
  c: Context,
  deps: AgentDeps,
  handler: DefaultRequestHandler,
  body: Record<string, unknown>,
): Promise<Response> {
  const id = typeof body.id === "string" || typeof body.id === "number" ? body.id : null;
  const rpcError = (err: unknown) =>
    c.json({ jsonrpc: "2.0", id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) });
  // What the SDK's express adapter does, without express: build the call context from the headers, check the
  // A2A-Version the client asked for (absent means 0.3, which this card does not offer), then dispatch.
  const context = defaultServerCallContextBuilder({
    extensions: Extensions.parseServiceParameter(c.req.header(HTTP_EXTENSION_HEADER)),
    user: new UnauthenticatedUser(),
    headers: c.req.header(),
    requestedVersion: c.req.header(A2A_VERSION_HEADER) || undefined,
  });
  try {
    validateVersion(context.requestedVersion, await handler.getAgentCard(), "JSONRPC");
  } catch (err) {
    return rpcError(err);
  }
  const leaving = new AbortController();
  if (deps.stream !== undefined && STREAM_METHODS.has(String(body.method))) context.state.set(STREAM_KEY, leaving);
  // A2A 0.3 (`message/send`, `tasks/get`, …): the SDK's compat layer maps it onto the same 1.0 handler.
  const legacy = isLegacyJsonRpcMethod(body.method);
  const transport = legacy ? new LegacyJsonRpcTransportHandler(handler) : new JsonRpcTransportHandler(handler);
  const mapError = legacy
    ? (err: unknown) => LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(err)
    : (err: unknown) => JsonRpcTransportHandler.mapToJSONRPCError(err);
  try {
    const answer = await transport.handle(body, context);
    if (!(Symbol.asyncIterator in answer)) return c.json(answer);
    return sseAnswer(c, answer, id, mapError, leaving);
  } catch (err) {
    deps.log.error({ err, legacy }, "a2a JSON-RPC request failed unexpectedly");
    return c.json({ jsonrpc: "2.0", id, error: { code: -32603, message: "Internal error" } }, 500);
  }
}

/**
 * A streaming JSON-RPC answer as the A2A spec's SSE: one `data:` event per JSON-RPC response. An error before
 * the first event is a plain JSON-RPC error (as the SDK's express adapter does); one later ends the stream with
 * an `event: error`.
 */
async function sseAnswer(
  c: Context,
  answer: AsyncIterable<unknown>,
  id: string | number | null,
  mapError: (err: unknown) => unknown,
  leaving: AbortController,
): Promise<Response> {
  const it = answer[Symbol.asyncIterator]();
  let first: IteratorResult<unknown>;
  try {
    first = await it.next();
  } catch (err) {
    return c.json({ jsonrpc: "2.0", id, error: mapError(err) });
  }
  const enc = new TextEncoder();
  const event = (value: unknown) => enc.encode(`data: ${JSON.stringify(value)}\n\n`);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(event(first.value));
    },
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) controller.close();
        else controller.enqueue(event(next.value));
      } catch (err) {
        controller.enqueue(
          enc.encode(`event: error\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, error: mapError(err) })}\n\n`),
        );
        controller.close();
      }
    },
    async cancel() {
      // The client left: stop the work behind the stream, then the SDK's iterator.
      leaving.abort();
      await it.return?.(undefined);
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}

/**
 * Runs a message's skill: a data part `{skill, parameters}`, else the text parts as the user turn of an
 * `inference` on the node's first model. The result is one terminal task: completed with an artifact (the
 * assistant text, for inference, and the API's JSON answer), or failed with the API's error.
 */
function skillExecutor(deps: AgentDeps): AgentExecutor {
  return {
    async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
      // The SDK's default context builder keeps the HTTP request's headers in the call context's state.
      const headers = ctx.context.state.get(STATE_HEADERS_KEY) as RequestHeaders | undefined;
      const header = (n: string) => {
        const v = headers?.[n];
        return typeof v === "string" ? v : undefined;
      };
      const call = withHeaders(deps.call, header);
      const leaving = ctx.context.state.get(STREAM_KEY) as AbortController | undefined;
      const stream = deps.stream !== undefined && leaving !== undefined ? withHeaders(deps.stream, header) : undefined;
      let skill = "inference";
      let outcome: SkillOutcome;
      try {
        const ask = messageSkill(ctx.userMessage);
        if (ask === undefined) {
          outcome = failure(
            invalidRequestError(
              `Send a data part {"skill": one of ${SKILL_IDS.join(", ")}, "parameters": {…}} or a text part to ask the first model.`,
              "message.parts",
            ),
          );
        } else if (stream !== undefined && ask !== undefined && ("text" in ask || ask.skill === "inference")) {
          // A streaming request: the answer goes out token by token as artifact updates.
          const parameters = "text" in ask ? await firstModelChat(call, ask.text) : ask.parameters;
          if (parameters === undefined) {
            outcome = failure(new OpenAIError(503, "No models are served here right now.", { code: "no_models" }));
          } else if (!isRecord(parameters)) {
            outcome = failure(invalidRequestError("`parameters` of `inference` must be a JSON object.", "parameters"));
          } else {
            await streamInference(ctx, bus, stream, parameters, (leaving as AbortController).signal);
            return;
          }
        } else if ("skill" in ask) {
          skill = ask.skill;
          outcome = await runSkill(deps, call, ask.skill, ask.parameters);
        } else {
          outcome = await askFirstModel(deps, call, ask.text);
        }
      } catch (err) {
        deps.log.error({ err }, "a2a skill failed unexpectedly");
        outcome = failure(internalError(err));
      }
      bus.publish(AgentEvent.task(resultTask(ctx, skill, outcome)));
    },
    // Tasks are stored only once terminal (one API call each), so the SDK refuses to cancel them before
    // this is reached; say so should it ever be.
    async cancelTask(): Promise<void> {
      throw new TaskNotCancelableError("A2A tasks here finish in one call and cannot be canceled.");
    },
  };
}

type MessageSkill = { skill: string; parameters: unknown } | { text: string };

function messageSkill(message: Message): MessageSkill | undefined {
  const texts: string[] = [];
  for (const part of message.parts) {
    const content = part.content;
    if (content?.$case === "data" && isRecord(content.value) && typeof content.value.skill === "string") {
      return { skill: content.value.skill, parameters: content.value.parameters };
    }
    if (content?.$case === "text" && content.value.trim() !== "") texts.push(content.value);
  }
  return texts.length > 0 ? { text: texts.join("\n") } : undefined;
}

/** The chat request that asks `text` of the first model listed, or undefined when none is. */
async function firstModelChat(call: NodeCall, text: string): Promise<Record<string, unknown> | undefined> {
  const models = await call({ method: "GET", path: "/v1/models" });
  const list = models.status < 400 ? (models.body as { data?: Array<{ id?: unknown }> } | undefined)?.data : undefined;
  const model = list?.[0]?.id;
  return typeof model === "string" ? { model, messages: [{ role: "user", content: text }] } : undefined;
}

async function askFirstModel(deps: AgentDeps, call: NodeCall, text: string): Promise<SkillOutcome> {
  const parameters = await firstModelChat(call, text);
  if (parameters === undefined) {
    return failure(new OpenAIError(503, "No models are served here right now.", { code: "no_models" }));
  }
  return runSkill(deps, call, "inference", parameters);
}

/** The `data:` payloads of an SSE body, in order. */
async function* sseData(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (body === null) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data !== "") yield data;
      end = buffer.indexOf("\n\n");
    }
  }
}

/**
 * Inference for a streaming A2A request: a working task first, then each piece of the reply as an artifact
 * update appended to one artifact, then that artifact whole (the text and the completion, what a non-streaming
 * request gets) and the completed status. An API error (402 quote included) fails the task with it.
 */
async function streamInference(
  ctx: RequestContext,
  bus: ExecutionEventBus,
  stream: NodeStream,
  parameters: Record<string, unknown>,
  signal: AbortSignal,
): Promise<void> {
  const ids = { taskId: ctx.taskId, contextId: ctx.contextId };
  const now = () => new Date().toISOString();
  bus.publish(
    AgentEvent.task({
      id: ctx.taskId,
      contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: now() },
      artifacts: [],
      history: [],
      metadata: { skill: "inference" },
    }),
  );
  const fail = (outcome: SkillOutcome) =>
    bus.publish(
      AgentEvent.statusUpdate({ ...ids, status: resultTask(ctx, "inference", outcome).status, metadata: undefined }),
    );
  const res = await stream({
    method: "POST",
    path: "/v1/chat/completions",
    body: { ...parameters, stream: true, stream_options: { include_usage: true } },
    signal,
  });
  if (res.status >= 400 || !(res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = text;
    }
    fail(apiFailure({ status: res.status >= 400 ? res.status : 502, body, headers: res.headers }));
    return;
  }
  const artifactId = randomUUID();
  const artifact = (parts: Part[]): Artifact => ({
    artifactId,
    name: "inference result",
    description: "",
    parts,
    metadata: undefined,
    extensions: [],
  });
  let text = "";
  let pieces = 0;
  let head: { id?: unknown; created?: unknown; model?: unknown } = {};
  let finishReason: unknown = null;
  let usage: unknown;
  try {
    for await (const data of sseData(res.body)) {
      if (data === "[DONE]") break;
      let chunk: Record<string, unknown>;
      try {
        chunk = JSON.parse(data) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (isRecord(chunk.error)) {
        const e = chunk.error as Record<string, unknown>;
        fail(apiFailure({ status: 500, body: { error: e }, headers: res.headers }));
        return;
      }
      if (pieces === 0 && head.id === undefined) head = { id: chunk.id, created: chunk.created, model: chunk.model };
      const choice = (
        chunk.choices as Array<{ delta?: { content?: unknown }; finish_reason?: unknown }> | undefined
      )?.[0];
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
      const delta = choice?.delta?.content;
      if (typeof delta === "string" && delta !== "") {
        text += delta;
        bus.publish(
          AgentEvent.artifactUpdate({
            ...ids,
            artifact: artifact([textPart(delta)]),
            append: pieces++ > 0,
            lastChunk: false,
            metadata: undefined,
          }),
        );
      }
    }
  } catch (err) {
    // The reader left (aborted) or the stream broke: nobody is waiting for the rest.
    if (signal.aborted) return;
    throw err;
  }
  if (signal.aborted) return;
  const completion = {
    ...head,
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason }],
    ...(usage === undefined ? {} : { usage }),
  };
  bus.publish(
    AgentEvent.artifactUpdate({
      ...ids,
      artifact: artifact([textPart(text), dataPart(completion)]),
      append: false,
      lastChunk: true,
      metadata: undefined,
    }),
  );
  bus.publish(
    AgentEvent.statusUpdate({
      ...ids,
      status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: now() },
      metadata: undefined,
    }),
  );
}

function resultTask(ctx: RequestContext, skill: string, outcome: SkillOutcome): Task {
  const timestamp = new Date().toISOString();
  if (!outcome.ok) {
    const message: Message = {
      messageId: randomUUID(),
      contextId: ctx.contextId,
      taskId: ctx.taskId,
      role: Role.ROLE_AGENT,
      parts: [
        textPart(`HTTP ${outcome.status}: ${outcome.error.message}`),
        dataPart({ status: outcome.status, error: outcome.error }),
      ],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    };
    return {
      id: ctx.taskId,
      contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_FAILED, message, timestamp },
      artifacts: [],
      history: [],
      metadata: { skill },
    };
  }
  const parts: Part[] = [];
  const text = skill === "inference" ? assistantText(outcome.result) : undefined;
  if (text !== undefined) parts.push(textPart(text));
  parts.push(dataPart(outcome.result));
  const artifact: Artifact = {
    artifactId: randomUUID(),
    name: `${skill} result`,
    description: "",
    parts,
    metadata: undefined,
    extensions: [],
  };
  return {
    id: ctx.taskId,
    contextId: ctx.contextId,
    status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp },
    artifacts: [artifact],
    history: [],
    metadata: { skill },
  };
}

function assistantText(completion: unknown): string | undefined {
  const content = (completion as { choices?: Array<{ message?: { content?: unknown } }> } | undefined)?.choices?.[0]
    ?.message?.content;
  return typeof content === "string" ? content : undefined;
}

function textPart(text: string): Part {
  return { content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" };
}

function dataPart(value: unknown): Part {
  return { content: { $case: "data", value }, metadata: undefined, filename: "", mediaType: "application/json" };
}

// ---------------------------------------------------------------------------------------------------------
// Skills → API calls.

async function runSkill(deps: AgentDeps, call: NodeCall, skillId: string, parameters: unknown): Promise<SkillOutcome> {
  const skill = SKILLS.find((s) => s.card.id === skillId);
  if (skill === undefined) {
    return failure(
      invalidRequestError(`Unknown skill \`${skillId}\`. Skills: ${SKILL_IDS.join(", ")}.`, "skill", "unknown_skill"),
    );
  }
  if (skill.needsChain && !deps.chainEnabled) {
    return failure(
      new OpenAIError(
        501,
        `The \`${skillId}\` skill needs the Compute marketplace, and this node has no marketplace/chain configured (RPC_URL unset). Ask a node or gateway that runs with a chain.`,
        { type: "invalid_request_error", param: "skill", code: "marketplace_not_configured" },
      ),
    );
  }
  if (parameters !== undefined && !isRecord(parameters)) {
    return failure(invalidRequestError(`\`parameters\` of \`${skillId}\` must be a JSON object.`, "parameters"));
  }
  const request = skill.request(parameters ?? {});
  if ("ok" in request) return request;
  try {
    const res = await call(request);
    if (res.status >= 400) return apiFailure(res);
    return { ok: true, result: res.body, headers: res.headers };
  } catch (err) {
    deps.log.error({ err, skill: skillId }, "a2a skill call failed unexpectedly");
    return failure(internalError(err));
  }
}

/** The API's error, OpenAI-shaped whatever it answered; a 402 keeps its whole body (quote, how to pay). */
function apiFailure(res: NodeCallResult): SkillOutcome {
  const inner = (res.body as { error?: unknown } | undefined)?.error;
  const fields = isRecord(inner) ? inner : {};
  const error: SkillError = {
    // x402's v1 402 body has `error` as a plain string.
    message: typeof inner === "string" && inner !== "" ? inner : errorMessage(res),
    type: typeof fields.type === "string" ? fields.type : res.status >= 500 ? "server_error" : "invalid_request_error",
    param: typeof fields.param === "string" ? fields.param : null,
    code: typeof fields.code === "string" ? fields.code : res.status === 402 ? "payment_required" : null,
  };
  if (res.status === 402) error.data = res.body;
  return { ok: false, status: res.status, error, headers: res.headers };
}

function failure(err: OpenAIError): SkillOutcome {
  return { ok: false, status: err.status, error: err.toJSON().error };
}

/** The node call with the agent request's pass-through headers (payment, signatures) added. */
// ---------------------------------------------------------------------------------------------------------
// The agent card (A2A v1.0 shape: the endpoint and binding are the first of `supportedInterfaces`).

function agentCard(deps: AgentDeps, origin: string): AgentCard {
  return {
    name: deps.role === "gateway" ? "Compute marketplace gateway" : "Compute provider node",
    description:
      (deps.role === "gateway"
        ? "The Compute marketplace: OpenAI-compatible inference and embeddings on every provider's models, each request routed to the cheapest live provider serving the model"
        : "A Compute marketplace provider node: OpenAI-compatible inference and embeddings on the models it serves") +
      (deps.chainEnabled ? ", and the marketplace: provider discovery and GPU rentals." : ".") +
      " Send a data part {skill, parameters} to run a skill, or plain text to ask the first model.",
    // 1.0, and the same endpoint again as 0.3 for clients that predate 1.0 (`message/send`, `tasks/get`).
    supportedInterfaces: duplicateInterfacesForLegacy(
      [{ url: `${origin}/a2a`, protocolBinding: "JSONRPC", protocolVersion: A2A_PROTOCOL_VERSION, tenant: "" }],
      ["JSONRPC"],
    ),
    provider: undefined,
    version: deps.version,
    capabilities: {
      streaming: deps.stream !== undefined,
      pushNotifications: false,
      extendedAgentCard: false,
      extensions: [],
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain", "application/json"],
    defaultOutputModes: ["text/plain", "application/json"],
    skills: SKILLS.map((s) => ({ ...s.card, inputModes: [], outputModes: [], securityRequirements: [] })),
    signatures: [],
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
