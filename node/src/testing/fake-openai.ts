/**
 * A fake OpenAI-compatible server (what vLLM / llama.cpp server / OpenAI speak): GET /v1/models,
 * POST /v1/chat/completions and /v1/completions (JSON, or SSE `data: {chunk}\n\n` … `data: [DONE]\n\n`
 * with a usage chunk when `stream_options.include_usage`), POST /v1/embeddings. Requires
 * `Authorization: Bearer <apiKey>`. Model `broken` sends an error event mid-stream, `dropped` cuts the
 * connection mid-stream, `rejects` answers 400 with an OpenAI error body.
 *
 * A chat request with `tools` is answered with function calls, as OpenAI streams them: a call per tool
 * (only the named one for `tool_choice: {type: "function", function: {name}}`), each announced with
 * `{index, id, type, function: {name, arguments: ""}}` in `delta.tool_calls`, its `arguments` JSON text
 * (fakeToolArguments) following in small fragments over several chunks, then `finish_reason: "tool_calls"`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_OPENAI_TEXT = ["Hello", " from", " the", " upstream", " model", "!"];
export const FAKE_OPENAI_KEY = "sk-test-upstream";

export type FakeOpenAI = {
  url: string;
  requests: Array<{ path: string; body: Record<string, unknown>; authorization: string | undefined }>;
  close(): Promise<void>;
};

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

/** The arguments the fake calls a tool with. */
export const fakeToolArguments = (name: string) => ({ tool: name, city: "Paris", days: 3, units: ["celsius", "kph"] });

type ToolsBody = {
  tools?: Array<{ function: { name: string } }>;
  tool_choice?: string | { function: { name: string } };
};

const MODELS = ["gpt-test", "text-embedding-test", "broken", "dropped", "rejects"];

async function streamToolCalls(
  res: ServerResponse,
  o: { id: string; created: number; model: string; names: string[]; includeUsage: boolean },
): Promise<void> {
  const frame = (delta: unknown, finishReason: string | null, usage?: unknown) =>
    `data: ${JSON.stringify({
      id: o.id,
      object: "chat.completion.chunk",
      created: o.created,
      model: o.model,
      system_fingerprint: "fp_fake",
      choices: delta === undefined ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(o.includeUsage ? { usage: usage ?? null } : {}),
    })}\n\n`;
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  let fragments = 0;
  for (const [index, name] of o.names.entries()) {
    const head = { index, id: `call_fake${index}`, type: "function", function: { name, arguments: "" } };
    res.write(
      frame(index === 0 ? { role: "assistant", content: null, tool_calls: [head] } : { tool_calls: [head] }, null),
    );
    const args = JSON.stringify(fakeToolArguments(name));
    for (let at = 0; at < args.length; at += 5) {
      res.write(frame({ tool_calls: [{ index, function: { arguments: args.slice(at, at + 5) } }] }, null));
      fragments++;
      await new Promise((r) => setImmediate(r));
    }
  }
  res.write(frame({}, "tool_calls"));
  if (o.includeUsage)
    res.write(
      frame(undefined, null, { prompt_tokens: 57, completion_tokens: fragments, total_tokens: 57 + fragments }),
    );
  res.end("data: [DONE]\n\n");
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const requests: FakeOpenAI["requests"] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    if (req.headers.authorization !== `Bearer ${FAKE_OPENAI_KEY}`) {
      return json(res, 401, {
        error: {
          message: "Incorrect API key provided.",
          type: "invalid_request_error",
          param: null,
          code: "invalid_api_key",
        },
      });
    }
    if (req.method === "GET" && path === "/v1/models") {
      return json(res, 200, {
        object: "list",
        data: MODELS.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "upstream-org" })),
      });
    }
    const body = await readBody(req);
    requests.push({ path, body, authorization: req.headers.authorization });
    const model = String(body.model ?? "");
    if (!MODELS.includes(model)) {
      return json(res, 404, {
        error: {
          message: `The model \`${model}\` does not exist or you do not have access to it.`,
          type: "invalid_request_error",
          param: null,
          code: "model_not_found",
        },
      });
    }
    if (model === "rejects") {
      return json(res, 400, {
        error: {
          message: "messages too long for this model",
          type: "invalid_request_error",
          param: "messages",
          code: "context_length_exceeded",
        },
      });
    }
    if (path === "/v1/embeddings") {
      const input = typeof body.input === "string" ? [body.input] : (body.input as string[]);
      const dims = typeof body.dimensions === "number" ? body.dimensions : 4;
      return json(res, 200, {
        object: "list",
        data: input.map((t, index) => ({
          object: "embedding",
          index,
          embedding: Array.from({ length: dims }, (_, i) => ((t.length + i) % 7) / 7),
        })),
        model,
        usage: { prompt_tokens: input.length * 3, total_tokens: input.length * 3 },
      });
    }
    const chat = path === "/v1/chat/completions";
    if (!chat && path !== "/v1/completions")
      return json(res, 404, {
        error: { message: "not found", type: "invalid_request_error", param: null, code: null },
      });
    let tokens = FAKE_OPENAI_TEXT;
    let finish = "stop";
    if (typeof body.max_tokens === "number" && tokens.length > body.max_tokens) {
      tokens = tokens.slice(0, body.max_tokens);
      finish = "length";
    }
    const usage = { prompt_tokens: 11, completion_tokens: tokens.length, total_tokens: 11 + tokens.length };
    const id = chat ? "chatcmpl-upstream" : "cmpl-upstream";
    const object = chat ? "chat.completion.chunk" : "text_completion";
    const created = Math.floor(Date.now() / 1000);
    if (body.stream !== true) {
      const text = tokens.join("");
      return json(res, 200, {
        id,
        object: chat ? "chat.completion" : "text_completion",
        created,
        model,
        choices: [
          chat
            ? { index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: finish }
            : { index: 0, text, logprobs: null, finish_reason: finish },
        ],
        usage,
      });
    }
    const { tools, tool_choice: toolChoice } = body as ToolsBody;
    if (chat && tools !== undefined && tools.length > 0) {
      if (body.stream !== true)
        return json(res, 400, {
          error: {
            message: "the fake streams tool calls only",
            type: "invalid_request_error",
            param: "stream",
            code: null,
          },
        });
      const names = typeof toolChoice === "object" ? [toolChoice.function.name] : tools.map((t) => t.function.name);
      return streamToolCalls(res, {
        id,
        created,
        model,
        names,
        includeUsage: (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
      });
    }
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const frame = (choices: unknown[], u?: unknown) =>
      `data: ${JSON.stringify({ id, object, created, model, choices, ...(includeUsage ? { usage: u ?? null } : {}) })}\n\n`;
    const choice = (content: string | undefined, finishReason: string | null, role?: string) =>
      chat
        ? {
            index: 0,
            delta: { ...(role ? { role } : {}), ...(content !== undefined ? { content } : {}) },
            logprobs: null,
            finish_reason: finishReason,
          }
        : { index: 0, text: content ?? "", logprobs: null, finish_reason: finishReason };
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    if (chat) res.write(frame([choice("", null, "assistant")]));
    let i = 0;
    for (const t of tokens) {
      if (i === 2 && model === "broken") {
        res.end(
          `data: ${JSON.stringify({ error: { message: "upstream exploded", type: "server_error", param: null, code: null } })}\n\n`,
        );
        return;
      }
      if (i === 2 && model === "dropped") {
        res.socket?.destroy();
        return;
      }
      res.write(frame([choice(t, null)]));
      i++;
      await new Promise((r) => setImmediate(r));
    }
    res.write(frame([choice(chat ? undefined : "", finish)]));
    if (includeUsage) res.write(frame([], usage));
    res.end("data: [DONE]\n\n");
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
