/**
 * The A2A endpoint against a real node (mock backend, `llama2` → mock-model): the docs' task format with
 * fetch, standard A2A v1.0 with the official @a2a-js/sdk client, and the marketplace skills over a stubbed API.
 */
import { SendMessageRequest, type Task, TaskState } from "@a2a-js/sdk";
import { type Client, ClientFactory } from "@a2a-js/sdk/client";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockBackend } from "../backends/mock.ts";
import { silentLogger } from "../logger.ts";
import { startTestNode, type TestNode } from "../testing/harness.ts";
import { defaultServerCallContextBuilder, UnauthenticatedUser } from "@a2a-js/sdk/server";
import { a2aRoutes, RecentTaskStore } from "@jeju/compute-sdk/agents/a2a";
import type { NodeCallRequest, NodeCallResult } from "@jeju/compute-sdk/agents/internal";

/** The body of the docs' curl example. */
const DOCS_BODY = {
  type: "task",
  task: {
    skill: "inference",
    parameters: { model: "llama2", messages: [{ role: "user", content: "Analyze this market data..." }] },
  },
};

type TaskResult = {
  type: string;
  task: {
    id: string;
    skill: string;
    status: string;
    result?: Record<string, unknown>;
    error?: { message: string; type: string; param: string | null; code: string | null; data?: unknown };
  };
};
type Completion = { object: string; model: string; choices: Array<{ message: { content: string } }>; usage?: unknown };

let node: TestNode;

beforeAll(async () => {
  node = await startTestNode([new MockBackend()], { aliases: { llama2: "mock-model" } });
});
afterAll(async () => {
  await node.close();
});

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${node.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function a2aTask(skill: string, parameters?: unknown): Promise<{ status: number; body: TaskResult }> {
  const res = await post("/a2a", { type: "task", task: { skill, parameters } });
  return { status: res.status, body: res.body as TaskResult };
}

describe("POST /a2a, the docs' task format", () => {
  it("answers the docs' curl body with a completed task_result holding the chat.completion", async () => {
    const { status, body } = await post("/a2a", DOCS_BODY);
    expect(status).toBe(200);
    const { type, task } = body as TaskResult;
    expect(type).toBe("task_result");
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(task.skill).toBe("inference");
    expect(task.status).toBe("completed");
    const result = task.result as Completion;
    expect(result.object).toBe("chat.completion");
    expect(result.model).toBe("llama2");
    expect(result.choices[0]?.message.content).toMatch(/^This is a mock response/);

    const direct = await post("/v1/chat/completions", DOCS_BODY.task.parameters);
    expect(direct.status).toBe(200);
    expect(result.choices[0]?.message.content).toBe((direct.body as Completion).choices[0]?.message.content);
  });

  it("embed returns the vector /v1/embeddings returns", async () => {
    const parameters = { model: "llama2", input: "The food was delicious." };
    const { status, body } = await a2aTask("embed", parameters);
    expect(status).toBe(200);
    expect(body.task.status).toBe("completed");
    type Embeddings = { object: string; data: Array<{ object: string; embedding: number[] }> };
    const result = body.task.result as Embeddings;
    expect(result.object).toBe("list");
    expect(result.data[0]?.object).toBe("embedding");
    const direct = (await post("/v1/embeddings", parameters)).body as Embeddings;
    expect(result.data[0]?.embedding).toEqual(direct.data[0]?.embedding);
    expect(result.data[0]?.embedding.length).toBeGreaterThan(0);
  });

  it("an unknown model fails with the API's 404 model_not_found", async () => {
    const { status, body } = await a2aTask("inference", { model: "nope", messages: [{ role: "user", content: "hi" }] });
    expect(status).toBe(404);
    expect(body.type).toBe("task_result");
    expect(body.task.status).toBe("failed");
    expect(body.task.error).toEqual({
      message: "The model `nope` does not exist or you do not have access to it.",
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    });
  });

  it("an unknown skill is a 400 listing the skills", async () => {
    const { status, body } = await a2aTask("summarize", {});
    expect(status).toBe(400);
    expect(body.task.status).toBe("failed");
    expect(body.task.error).toEqual({
      message: "Unknown skill `summarize`. Skills: inference, embed, rent_compute, list_providers.",
      type: "invalid_request_error",
      param: "skill",
      code: "unknown_skill",
    });
  });

  it("malformed JSON and a body in neither format are 400 OpenAI errors", async () => {
    const malformed = await post("/a2a", '{"type":"task",');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({
      error: {
        message: expect.stringMatching(/^We could not parse the JSON body of your request/),
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
    const neither = await post("/a2a", { hello: "world" });
    expect(neither.status).toBe(400);
    expect((neither.body as { error: { code: string } }).error.code).toBe("invalid_a2a_request");
    const badParameters = await a2aTask("inference", ["not", "an", "object"]);
    expect(badParameters.status).toBe(400);
    expect(badParameters.body.task.error?.param).toBe("parameters");
  });

  it("list_providers and rent_compute on this chainless node: 501 marketplace_not_configured", async () => {
    for (const skill of ["list_providers", "rent_compute"]) {
      const { status, body } = await a2aTask(skill, {});
      expect(status).toBe(501);
      expect(body.task.status).toBe("failed");
      expect(body.task.error).toEqual({
        message: `The \`${skill}\` skill needs the Compute marketplace, and this node has no marketplace/chain configured (RPC_URL unset). Ask a node or gateway that runs with a chain.`,
        type: "invalid_request_error",
        param: "skill",
        code: "marketplace_not_configured",
      });
    }
  });
});

describe("the agent card", () => {
  it("is served at both well-known paths with this request's origin", async () => {
    for (const path of ["/.well-known/agent-card.json", "/a2a/.well-known/agent-card.json"]) {
      const res = await fetch(`${node.url}${path}`);
      expect(res.status).toBe(200);
      const card = (await res.json()) as Record<string, unknown>;
      expect(card).toMatchObject({
        name: "Compute provider node",
        version: "0.1.0",
        supportedInterfaces: [
          { url: `${node.url}/a2a`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
          { url: `${node.url}/a2a`, protocolBinding: "JSONRPC", protocolVersion: "0.3" },
        ],
        capabilities: { streaming: true, pushNotifications: false },
        defaultInputModes: ["text/plain", "application/json"],
        defaultOutputModes: ["text/plain", "application/json"],
      });
    }
  });
});

describe("standard A2A (JSON-RPC, v1.0) with the official client", () => {
  let client: Client;
  beforeAll(async () => {
    client = await new ClientFactory().createFromUrl(node.url);
  });

  const send = (parts: unknown[]) =>
    client.sendMessage(
      SendMessageRequest.fromJSON({ message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts } }),
    );

  function completedTask(result: Awaited<ReturnType<Client["sendMessage"]>>): Task {
    expect("status" in result).toBe(true);
    const task = result as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    return task;
  }

  it("fetches a card that validates: name, skills, JSON-RPC endpoint", async () => {
    const card = await client.getAgentCard();
    expect(card.name).toBe("Compute provider node");
    expect(card.version).toBe("0.1.0");
    expect(card.skills.map((s) => s.id)).toEqual(["inference", "embed", "rent_compute", "list_providers"]);
    for (const skill of card.skills) {
      expect(skill.name).not.toBe("");
      expect(skill.description).not.toBe("");
      expect(skill.tags.length).toBeGreaterThan(0);
      expect(skill.examples.length).toBeGreaterThan(0);
    }
    expect(card.supportedInterfaces[0]?.url).toMatch(/\/a2a$/);
    expect(client.transport.protocolName).toBe("JSONRPC");
    expect(client.protocolVersion).toBe("1.0");
  });

  it("runs a data part's skill: a completed task with the assistant text and the completion", async () => {
    const parameters = { model: "mock-model", messages: [{ role: "user", content: "What is a GPU?" }] };
    const task = completedTask(await send([{ data: { skill: "inference", parameters } }]));
    const direct = (await post("/v1/chat/completions", parameters)).body as Completion;
    const content = direct.choices[0]?.message.content;
    expect(content).toMatch(/^This is a mock response/);
    const parts = task.artifacts[0]?.parts ?? [];
    expect(parts.map((p) => p.content?.$case)).toEqual(["text", "data"]);
    expect(parts[0]?.content?.value).toBe(content);
    const completion = parts[1]?.content?.value as Completion;
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message.content).toBe(content);

    // The task stays readable.
    const again = await client.getTask({ tenant: "", id: task.id });
    expect(again.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(again.artifacts[0]?.parts[0]?.content?.value).toBe(content);
  });

  it("answers a text-only message with the first model", async () => {
    const text = "Explain quantum computing in simple terms.";
    const models = (await (await fetch(`${node.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    const first = models.data[0]?.id;
    const task = completedTask(await send([{ text }]));
    const messages = [{ role: "user", content: text }];
    const direct = (await post("/v1/chat/completions", { model: first, messages })).body as Completion;
    const parts = task.artifacts[0]?.parts ?? [];
    expect(parts[0]?.content?.value).toBe(direct.choices[0]?.message.content);
    expect((parts[1]?.content?.value as Completion | undefined)?.model).toBe(first);
  });

  it("fails the task with the API's error for an unknown model", async () => {
    const result = await send([
      {
        data: { skill: "inference", parameters: { model: "nope", messages: [{ role: "user", content: "hi" }] } },
      },
    ]);
    const task = result as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    const parts = task.status?.message?.parts ?? [];
    expect(parts[0]?.content?.value).toBe("HTTP 404: The model `nope` does not exist or you do not have access to it.");
    expect(parts[1]?.content?.value).toMatchObject({ status: 404, error: { code: "model_not_found" } });
  });

  it("streams inference token by token (SendStreamingMessage, official client): the pieces add up to the answer", async () => {
    const parameters = {
      model: "mock-model",
      messages: [{ role: "user", content: "Stream this, please." }],
      max_tokens: 24,
    };
    const direct = (await post("/v1/chat/completions", parameters)).body as Completion;
    const request = SendMessageRequest.fromJSON({
      message: {
        messageId: crypto.randomUUID(),
        role: "ROLE_USER",
        parts: [{ data: { skill: "inference", parameters } }],
      },
    });
    const kinds: string[] = [];
    const pieces: string[] = [];
    let finalParts: unknown[] = [];
    let taskId = "";
    for await (const event of client.sendMessageStream(request)) {
      const payload = event.payload;
      if (!payload) continue;
      kinds.push(payload.$case);
      if (payload.$case === "task") taskId = payload.value.id;
      if (payload.$case === "artifactUpdate") {
        const parts = payload.value.artifact?.parts ?? [];
        if (payload.value.lastChunk) finalParts = parts;
        else for (const part of parts) if (part.content?.$case === "text") pieces.push(part.content.value);
      }
      if (payload.$case === "statusUpdate") expect(payload.value.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    }
    expect(kinds[0]).toBe("task");
    expect(kinds.at(-1)).toBe("statusUpdate");
    expect(pieces.length, "several pieces, not one").toBeGreaterThan(3);
    expect(pieces.join("")).toBe(direct.choices[0]?.message.content);
    expect((finalParts[0] as { content: { value: string } }).content.value).toBe(direct.choices[0]?.message.content);
    // The stored task holds the answer whole, as a non-streaming request leaves it.
    const stored = await client.getTask({ tenant: "", id: taskId });
    expect(stored.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(stored.artifacts).toHaveLength(1);
    const [text, data] = stored.artifacts[0]?.parts ?? [];
    expect(text?.content).toEqual({ $case: "text", value: direct.choices[0]?.message.content });
    expect((data?.content as { value: Record<string, unknown> } | undefined)?.value).toMatchObject({
      object: "chat.completion",
      usage: direct.usage,
    });
  });

  it("streams for A2A 0.3 too (message/stream as SSE), and a failed skill still ends the stream with the error", async () => {
    const message = {
      kind: "message",
      messageId: "legacy-s",
      role: "user",
      parts: [{ kind: "text", text: "Legacy streaming." }],
    };
    const res = await fetch(`${node.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 21, method: "message/stream", params: { message } }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = (await res.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => JSON.parse(e.slice(6)) as { id: number; result: { kind: string; status?: { state: string } } });
    expect(events[0]?.result.kind).toBe("task");
    expect(events.filter((e) => e.result.kind === "artifact-update").length).toBeGreaterThan(3);
    expect(events.at(-1)?.result).toMatchObject({ kind: "status-update", status: { state: "completed" } });
    expect(events.every((e) => e.id === 21)).toBe(true);

    const unknownModel = await fetch(`${node.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json", "A2A-Version": "1.0" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 22,
        method: "SendStreamingMessage",
        params: {
          message: {
            messageId: "m-x",
            role: "ROLE_USER",
            parts: [
              {
                data: { skill: "inference", parameters: { model: "nope", messages: [{ role: "user", content: "x" }] } },
              },
            ],
          },
        },
      }),
    });
    const last = (await unknownModel.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => JSON.parse(e.slice(6)))
      .at(-1) as {
      result: { statusUpdate: { status: { state: string; message: { parts: Array<{ text?: string }> } } } };
    };
    expect(last.result.statusUpdate.status.state).toBe("TASK_STATE_FAILED");
    expect(last.result.statusUpdate.status.message.parts[0]?.text).toBe(
      "HTTP 404: The model `nope` does not exist or you do not have access to it.",
    );
  });

  it("stops the model when the streaming client leaves mid-answer", async () => {
    const backend = new MockBackend({ tokenDelayMs: 20 });
    const slow = await startTestNode([backend]);
    try {
      const ac = new AbortController();
      const res = await fetch(`${slow.url}/a2a`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        signal: ac.signal,
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 31,
          method: "message/stream",
          params: {
            message: {
              kind: "message",
              messageId: "leave-1",
              role: "user",
              parts: [
                {
                  kind: "data",
                  data: {
                    skill: "inference",
                    parameters: {
                      model: "mock-model",
                      messages: [{ role: "user", content: "A long story, please." }],
                      max_tokens: 64,
                    },
                  },
                },
              ],
            },
          },
        }),
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let seen = "";
      while (!seen.includes("artifact-update")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended before any piece");
        seen += new TextDecoder().decode(value);
      }
      expect(backend.stats.started).toBe(1);
      ac.abort();
      await reader.cancel().catch(() => {});
      const deadline = Date.now() + 5_000;
      while (backend.stats.aborted === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(backend.stats.aborted, "the generation was stopped").toBe(1);
      expect(backend.stats.completed).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it("refuses an unsupported A2A-Version with a JSON-RPC error", async () => {
    const params = { message: { messageId: "m-1", role: "ROLE_USER", parts: [{ text: "hi" }] } };
    const future = await post(
      "/a2a",
      { jsonrpc: "2.0", id: 8, method: "SendMessage", params },
      { "A2A-Version": "9.9" },
    );
    expect(future.body).toMatchObject({
      jsonrpc: "2.0",
      id: 8,
      error: {
        code: -32009,
        message: "The requested A2A protocol version '9.9' is not supported. Supported versions: 1.0, 0.3",
      },
    });
  });

  it("also speaks A2A 0.3 (no A2A-Version header): message/send runs the skill, tasks/get reads the task back", async () => {
    const parameters = { model: "mock-model", messages: [{ role: "user", content: "Legacy agent here." }] };
    const direct = (await (
      await fetch(`${node.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(parameters),
      })
    ).json()) as { choices: Array<{ message: { content: string } }> };
    const message = {
      kind: "message",
      messageId: "legacy-1",
      role: "user",
      parts: [{ kind: "data", data: { skill: "inference", parameters } }],
    };
    const sent = await post("/a2a", { jsonrpc: "2.0", id: 9, method: "message/send", params: { message } });
    expect(sent.status).toBe(200);
    const task = (sent.body as { result: Record<string, unknown> }).result as {
      kind: string;
      id: string;
      status: { state: string };
      artifacts: Array<{ parts: Array<{ kind: string; text?: string; data?: { object?: string } }> }>;
    };
    expect(task.kind).toBe("task");
    expect(task.status.state).toBe("completed");
    expect(task.artifacts[0]?.parts[0]).toEqual({ kind: "text", text: direct.choices[0]?.message.content });
    expect(task.artifacts[0]?.parts[1]?.data?.object).toBe("chat.completion");
    const got = await post("/a2a", { jsonrpc: "2.0", id: 10, method: "tasks/get", params: { id: task.id } });
    expect((got.body as { result: { id: string; status: { state: string } } }).result).toMatchObject({
      id: task.id,
      status: { state: "completed" },
    });
  });
});

describe("marketplace skills on a chain node (API stubbed)", () => {
  const quote = {
    error: {
      message: "Creating this session costs 1000 (USDC base units).",
      type: "invalid_request_error",
      param: null,
      code: "payment_required",
    },
    payment: { cost: "1000", symbol: "USDC", durationHours: 1, gpuCount: 1 },
  };
  const calls: NodeCallRequest[] = [];
  const app = new Hono();
  app.route(
    "/",
    a2aRoutes({
      log: silentLogger,
      version: "0.1.0",
      chainEnabled: true,
      call: async (req): Promise<NodeCallResult> => {
        calls.push(req);
        if (req.path === "/v1/sessions") return { status: 402, body: quote, headers: new Headers() };
        return { status: 200, body: { object: "list", data: [] }, headers: new Headers() };
      },
    }),
  );
  const task = async (skill: string, parameters: unknown, headers: Record<string, string> = {}) => {
    const res = await app.request("/a2a", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ type: "task", task: { skill, parameters } }),
    });
    return { status: res.status, body: (await res.json()) as TaskResult };
  };

  it("rent_compute posts the parameters to /v1/sessions and hands back the 402 quote", async () => {
    const parameters = {
      providerId: "0x0000000000000000000000000000000000000001",
      durationHours: 1,
      gpuCount: 1,
      sshPublicKey: "ssh-ed25519 AAAA",
    };
    const { status, body } = await task("rent_compute", parameters, {
      "x-compute-signature": "1.0xabc",
      cookie: "not-forwarded",
    });
    expect(calls.at(-1)).toEqual({
      method: "POST",
      path: "/v1/sessions",
      body: parameters,
      headers: { "x-compute-signature": "1.0xabc" },
    });
    expect(status).toBe(402);
    expect(body.task.status).toBe("failed");
    expect(body.task.error).toEqual({ ...quote.error, data: quote });
  });

  it("list_providers passes its parameters as query filters", async () => {
    const { status, body } = await task("list_providers", { model: "llama2", limit: 5, tee: null });
    expect(calls.at(-1)).toMatchObject({ method: "GET", path: "/v1/providers?model=llama2&limit=5" });
    expect(status).toBe(200);
    expect(body.task).toMatchObject({ status: "completed", result: { object: "list", data: [] } });
  });
});

describe("RecentTaskStore", () => {
  it("keeps two generations of tasks readable and forgets older ones", async () => {
    const store = new RecentTaskStore(2);
    const ctx = defaultServerCallContextBuilder({
      user: new UnauthenticatedUser(),
      extensions: undefined,
      headers: {},
    });
    const task = (id: string): Task =>
      ({
        id,
        contextId: "ctx",
        status: { state: TaskState.TASK_STATE_COMPLETED },
        artifacts: [],
        history: [],
        metadata: undefined,
      }) as unknown as Task;
    for (const id of ["t1", "t2", "t3"]) await store.save(task(id), ctx);
    expect((await store.load("t1", ctx))?.id).toBe("t1");
    expect((await store.load("t3", ctx))?.id).toBe("t3");
    for (const id of ["t4", "t5"]) await store.save(task(id), ctx);
    expect(await store.load("t1", ctx)).toBeUndefined();
    expect(await store.load("t2", ctx)).toBeUndefined();
    for (const id of ["t3", "t4", "t5"]) expect((await store.load(id, ctx))?.id).toBe(id);
  });
});
