/**
 * A fake Ollama speaking its native API's documented wire format (docs/api.md):
 * GET /api/tags, POST /api/chat and /api/generate (NDJSON stream of partial objects, a final object
 * with done: true, done_reason and the eval counts; or one object with "stream": false),
 * POST /api/embed. Model `broken:latest` fails mid-stream with an `{"error": …}` line, `dropped:latest`
 * cuts the connection mid-stream.
 *
 * A /api/chat request with `tools` is answered as Ollama answers calls: one line whose message has empty
 * content and `tool_calls: [{function: {name, arguments: {…}}}]` (a call per tool sent, arguments
 * fakeOllamaToolArguments, an object), then the `done: true` line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_OLLAMA_TEXT = [
  "Quantum",
  " computers",
  " use",
  " qubits",
  " that",
  " can",
  " be",
  " 0",
  " and",
  " 1",
  ".",
];

/** The arguments the fake calls a tool with (an object, as Ollama sends them). */
export const fakeOllamaToolArguments = (name: string) => ({
  tool: name,
  location: "Paris, FR",
  format: "celsius",
  days: 3,
});

const MODELS = ["llama2:latest", "nomic-embed-text:latest", "broken:latest", "dropped:latest"];

export type FakeOllama = {
  url: string;
  requests: Array<{ path: string; body: Record<string, unknown> }>;
  close(): Promise<void>;
};

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

const createdAt = () => new Date().toISOString();

export async function startFakeOllama(): Promise<FakeOllama> {
  const requests: FakeOllama["requests"] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    if (req.method === "GET" && path === "/api/tags") {
      return json(res, 200, {
        models: MODELS.map((name) => ({
          name,
          model: name,
          modified_at: "2023-12-07T09:32:18.757212583-08:00",
          size: 3825819519,
          digest: "fe938a131f40e6f6d40083c9f0f430a515233eb2edaa6d72eb85c50d64f2300e",
          details: {
            parent_model: "",
            format: "gguf",
            family: "llama",
            families: ["llama"],
            parameter_size: "7B",
            quantization_level: "Q4_0",
          },
        })),
      });
    }
    if (req.method !== "POST") return json(res, 404, { error: "404 page not found" });
    const body = await readBody(req);
    requests.push({ path, body });
    const model = String(body.model ?? "");
    if (!MODELS.includes(model) && !MODELS.includes(`${model}:latest`)) {
      return json(res, 404, { error: `model "${model}" not found, try pulling it first` });
    }
    const name = MODELS.includes(model) ? model : `${model}:latest`;

    if (path === "/api/embed") {
      const input = typeof body.input === "string" ? [body.input] : (body.input as string[]);
      const embeddings = input.map((text) => {
        const v = [0, 0, 0, 0, 0, 0, 0, 0];
        for (const w of text.toLowerCase().split(/\W+/)) if (w) v[w.length % 8] = (v[w.length % 8] ?? 0) + 1;
        const n = Math.hypot(...v) || 1;
        return v.map((x) => x / n);
      });
      return json(res, 200, {
        model: name,
        embeddings,
        total_duration: 14143917,
        load_duration: 1019500,
        prompt_eval_count: input.reduce((s, t) => s + t.split(/\s+/).length, 0),
      });
    }
    if (path !== "/api/chat" && path !== "/api/generate") return json(res, 404, { error: "404 page not found" });

    const chat = path === "/api/chat";
    const options = (body.options ?? {}) as { num_predict?: number; stop?: string[] };
    let tokens = FAKE_OLLAMA_TEXT;
    let doneReason = "stop";
    const stopAt = tokens.findIndex((t) => options.stop?.some((s) => t.includes(s)));
    if (stopAt !== -1) tokens = tokens.slice(0, stopAt);
    if (options.num_predict !== undefined && options.num_predict >= 0 && tokens.length > options.num_predict) {
      tokens = tokens.slice(0, options.num_predict);
      doneReason = "length";
    }
    const promptEvalCount = chat ? 26 : 5;
    const partial = (text: string) =>
      chat
        ? { model: name, created_at: createdAt(), message: { role: "assistant", content: text }, done: false }
        : { model: name, created_at: createdAt(), response: text, done: false };
    const final = (text: string) => ({
      model: name,
      created_at: createdAt(),
      ...(chat ? { message: { role: "assistant", content: text } } : { response: text }),
      done: true,
      done_reason: doneReason,
      ...(chat ? {} : { context: [1, 2, 3] }),
      total_duration: 4883583458,
      load_duration: 1334875,
      prompt_eval_count: promptEvalCount,
      prompt_eval_duration: 342546000,
      eval_count: tokens.length,
      eval_duration: 4535599000,
    });

    const tools = (body.tools ?? []) as Array<{ type: string; function: { name: string } }>;
    if (chat && tools.length > 0) {
      const message = {
        role: "assistant",
        content: "",
        tool_calls: tools.map((t) => ({
          function: { name: t.function.name, arguments: fakeOllamaToolArguments(t.function.name) },
        })),
      };
      tokens = ["call"]; // eval_count 1
      if (body.stream === false) return json(res, 200, { ...final(""), message });
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      res.write(`${JSON.stringify({ model: name, created_at: createdAt(), message, done: false })}\n`);
      res.end(`${JSON.stringify(final(""))}\n`);
      return;
    }

    if (body.stream === false) return json(res, 200, final(tokens.join("")));

    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    let i = 0;
    for (const t of tokens) {
      if (i === 2 && name === "broken:latest") {
        res.end(`${JSON.stringify({ error: "an error was encountered while running the model: unexpected EOF" })}\n`);
        return;
      }
      if (i === 2 && name === "dropped:latest") {
        res.socket?.destroy();
        return;
      }
      res.write(`${JSON.stringify(partial(t))}\n`);
      i++;
      await new Promise((r) => setImmediate(r));
    }
    res.end(`${JSON.stringify(final(""))}\n`);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
