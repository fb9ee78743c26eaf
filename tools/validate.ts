/**
 * `npm run validate [url]`: is this node working? (the docs' `bun run validate`)
 *
 * Talks to a running node (default COMPUTE_ENDPOINT or http://127.0.0.1:4007) the way its users do: health,
 * the model list, a chat answer and a stream from the first model it may use for free, embeddings, the
 * hardware report, the agent endpoints, and — when the node runs with a chain — the network it is on. Prints
 * one line per check and exits 1 if any failed. Sends no payment: priced models are skipped, not paid.
 */
import { styleText } from "node:util";

const base = (process.argv[2] ?? process.env.COMPUTE_ENDPOINT ?? "http://127.0.0.1:4007").replace(/\/+$/, "");
const TIMEOUT_MS = Number(process.env.VALIDATE_TIMEOUT_MS ?? 30_000);

type Json = Record<string, unknown>;
type Check = { name: string; ok: boolean; detail: string; ms: number };
const results: Check[] = [];

class CheckError extends Error {}

async function call(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CheckError(`cannot reach ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (SSE, or an error page): keep the text
  }
  return { status: res.status, body, text, headers: res.headers };
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

function errorOf(body: unknown): string {
  const e = (body as { error?: { message?: string } | string })?.error;
  return typeof e === "string" ? e : (e?.message ?? JSON.stringify(body).slice(0, 200));
}

async function check(name: string, fn: () => Promise<string>): Promise<boolean> {
  const t0 = performance.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true, detail, ms: performance.now() - t0 });
    return true;
  } catch (err) {
    results.push({ name, ok: false, detail: (err as Error).message, ms: performance.now() - t0 });
    return false;
  } finally {
    const r = results.at(-1);
    if (r) {
      const mark = r.ok ? styleText("green", "✓") : styleText("red", "✗");
      console.log(`${mark} ${r.name.padEnd(22)} ${r.detail} ${styleText("dim", `(${Math.round(r.ms)} ms)`)}`);
    }
  }
}

async function main(): Promise<number> {
  console.log(`Validating the Compute node at ${base}\n`);
  let health: Json = {};
  const reachable = await check("health", async () => {
    const r = await call("/health");
    if (r.status !== 200) throw new CheckError(`GET /health answered ${r.status}: ${errorOf(r.body)}`);
    health = r.body as Json;
    const down = ((health.backends ?? []) as Array<{ name: string; reachable: boolean }>).filter((b) => !b.reachable);
    if (down.length > 0) throw new CheckError(`backend(s) unreachable: ${down.map((b) => b.name).join(", ")}`);
    return `version ${String(health.version)}, backends ${((health.backends ?? []) as Array<{ name: string }>).map((b) => b.name).join(", ")}`;
  });
  if (!reachable) return finish();

  let models: string[] = [];
  await check("models", async () => {
    const r = await call("/v1/models");
    const data = (r.body as { data?: Array<{ id: string }> }).data;
    if (r.status !== 200 || !Array.isArray(data)) throw new CheckError(`GET /v1/models answered ${r.status}`);
    if (data.length === 0) throw new CheckError("no models served");
    models = data.map((m) => m.id);
    return models.join(", ");
  });

  // The first model that answers without a payment (priced models answer 402: that is correct, not a failure).
  let model: string | undefined;
  const messages = [{ role: "user", content: "Say hello." }];
  await check("chat", async () => {
    const priced: string[] = [];
    for (const m of models) {
      const r = await post("/v1/chat/completions", { model: m, messages, max_tokens: 16 });
      if (r.status === 402) {
        priced.push(m);
        continue;
      }
      if (r.status !== 200) throw new CheckError(`${m}: HTTP ${r.status}: ${errorOf(r.body)}`);
      const b = r.body as { choices?: Array<{ message?: { content?: string } }>; usage?: { total_tokens?: number } };
      const content = b.choices?.[0]?.message?.content ?? "";
      if (content === "") throw new CheckError(`${m}: empty answer`);
      model = m;
      return `${m}: "${content.slice(0, 60)}${content.length > 60 ? "…" : ""}" (${b.usage?.total_tokens ?? "?"} tokens)${priced.length > 0 ? `; priced (402, skipped): ${priced.join(", ")}` : ""}`;
    }
    throw new CheckError(priced.length > 0 ? `every model is priced (402): ${priced.join(", ")}` : "no model to ask");
  });

  if (model !== undefined) {
    const m = model;
    await check("chat (streaming)", async () => {
      const r = await post("/v1/chat/completions", {
        model: m,
        messages,
        max_tokens: 16,
        stream: true,
        stream_options: { include_usage: true },
      });
      if (r.status !== 200) throw new CheckError(`HTTP ${r.status}: ${errorOf(r.body)}`);
      if (!(r.headers.get("content-type") ?? "").startsWith("text/event-stream"))
        throw new CheckError(`content-type ${r.headers.get("content-type")}`);
      const frames = r.text.split("\n\n").filter((f) => f.startsWith("data: "));
      if (frames.at(-1) !== "data: [DONE]") throw new CheckError("the stream did not end with data: [DONE]");
      return `${frames.length} SSE frames, ends with [DONE]`;
    });
    await check("embeddings", async () => {
      const r = await post("/v1/embeddings", { model: m, input: "hello" });
      if (r.status !== 200) throw new CheckError(`HTTP ${r.status}: ${errorOf(r.body)}`);
      const v = (r.body as { data?: Array<{ embedding?: number[] }> }).data?.[0]?.embedding;
      if (!Array.isArray(v) || v.length === 0) throw new CheckError("no vector in the answer");
      return `${v.length} dimensions`;
    });
  }

  await check("hardware", async () => {
    const r = await call("/v1/hardware");
    if (r.status !== 200) throw new CheckError(`HTTP ${r.status}`);
    const h = r.body as {
      cpu?: { cores?: number; model?: string };
      gpus?: Array<{ name?: string }>;
      memory?: { total_bytes?: number };
    };
    const gpus = h.gpus?.length ? `${h.gpus.length} GPU(s): ${h.gpus.map((g) => g.name).join(", ")}` : "no GPU";
    return `${h.cpu?.cores ?? "?"} cores, ${Math.round((h.memory?.total_bytes ?? 0) / 2 ** 30)} GiB, ${gpus}`;
  });

  await check("agents (A2A, MCP)", async () => {
    const card = await call("/.well-known/agent-card.json");
    if (card.status !== 200) throw new CheckError(`agent card: HTTP ${card.status}`);
    const skills = ((card.body as { skills?: Array<{ id: string }> }).skills ?? []).map((s) => s.id);
    const mcp = await post(
      "/mcp",
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { accept: "application/json, text/event-stream" },
    );
    const tools = ((mcp.body as { result?: { tools?: Array<{ name: string }> } }).result?.tools ?? []).map(
      (t) => t.name,
    );
    if (mcp.status !== 200 || tools.length === 0) throw new CheckError(`MCP tools/list: HTTP ${mcp.status}`);
    return `A2A skills ${skills.join(", ")}; MCP tools ${tools.join(", ")}`;
  });

  if (health.marketplace === true) {
    await check("marketplace", async () => {
      const r = await call("/v1/network");
      if (r.status !== 200) throw new CheckError(`GET /v1/network answered ${r.status}: ${errorOf(r.body)}`);
      const n = r.body as { chainId?: number; provider?: string | null };
      return `chain ${n.chainId}${n.provider ? `, provider ${n.provider}` : ""}`;
    });
  }
  return finish();
}

function finish(): number {
  const failed = results.filter((r) => !r.ok);
  console.log();
  if (failed.length === 0) {
    console.log(styleText("green", `All ${results.length} checks passed.`));
    return 0;
  }
  console.log(styleText("red", `${failed.length} of ${results.length} checks failed.`));
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
