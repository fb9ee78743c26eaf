/**
 * /mcp with the official MCP client (streamable HTTP) against a real node on a free port.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../app.ts";
import { MockBackend } from "../backends/mock.ts";
import { ModelRegistry } from "../backends/registry.ts";
import { silentLogger } from "../logger.ts";
import { type RunningServer, startServer } from "../server.ts";
import { startTestNode, type TestNode } from "../testing/harness.ts";

let node: TestNode;
let client: Client;

async function connect(url: string): Promise<Client> {
  const c = new Client({ name: "compute-test", version: "1.0.0" });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  return c;
}

async function callTool(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function text(result: CallToolResult): string {
  const first = result.content[0];
  if (first?.type !== "text") throw new Error(`expected a text part, got ${JSON.stringify(result.content)}`);
  return first.text;
}

beforeAll(async () => {
  node = await startTestNode([new MockBackend()]);
  client = await connect(node.url);
});
afterAll(async () => {
  await client?.close();
  await node?.close();
});

describe("/mcp (no chain)", () => {
  it("identifies itself and lists the inference tools only", async () => {
    expect(client.getServerVersion()).toMatchObject({ name: "compute-node", version: "0.1.0" });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["list_models", "chat", "embed", "hardware"]);
    const chat = tools.find((t) => t.name === "chat");
    expect(chat?.inputSchema.required).toEqual(["model", "messages"]);
  });

  it("list_models returns the node's /v1/models", async () => {
    const result = await callTool("list_models");
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual(await (await fetch(`${node.baseURL}/models`)).json());
    expect((result.structuredContent as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(["mock-model"]);
  });

  it("chat answers with the same completion the OpenAI API gives", async () => {
    const messages = [{ role: "user" as const, content: "What is Compute?" }];
    const result = await callTool("chat", { model: "mock-model", messages, max_tokens: 8, seed: 3 });
    const direct = await node.client.chat.completions.create({ model: "mock-model", messages, max_tokens: 8, seed: 3 });
    const content = direct.choices[0]?.message.content;
    expect(content).toMatch(/^This is a mock response/);
    expect(text(result)).toBe(content);
    expect(result.structuredContent).toMatchObject({
      object: "chat.completion",
      model: "mock-model",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "length" }],
      usage: { completion_tokens: 8, prompt_tokens: direct.usage?.prompt_tokens },
    });
  });

  it("chat with json_schema answers JSON that follows the schema", async () => {
    const schema = {
      type: "object",
      properties: { verdict: { type: "string", enum: ["buy", "sell"] } },
      required: ["verdict"],
    };
    const result = await callTool("chat", {
      model: "mock-model",
      messages: [{ role: "user", content: "GPU prices?" }],
      json_schema: schema,
    });
    expect(result.isError).toBeUndefined();
    expect(["buy", "sell"]).toContain((JSON.parse(text(result)) as { verdict: string }).verdict);
  });

  it("embed returns the same vectors as /v1/embeddings", async () => {
    const input = ["GPU rental by the second", "decentralized inference"];
    const result = await callTool("embed", { model: "mock-model", input, dimensions: 16 });
    const direct = await node.client.embeddings.create({
      model: "mock-model",
      input,
      dimensions: 16,
      encoding_format: "float",
    });
    const data = (result.structuredContent as { data: Array<{ index: number; embedding: number[] }> }).data;
    expect(data.map((d) => d.index)).toEqual([0, 1]);
    expect(data.map((d) => d.embedding)).toEqual(direct.data.map((d) => d.embedding));
    expect(data[0]?.embedding).toHaveLength(16);
  });

  it("hardware reports this machine", async () => {
    const result = await callTool("hardware");
    const hw = result.structuredContent as { cpu: { cores: number }; memory: { total_bytes: number } };
    expect(hw.cpu.cores).toBeGreaterThan(0);
    expect(hw.memory.total_bytes).toBeGreaterThan(0);
    const direct = (await (await fetch(`${node.baseURL}/hardware`)).json()) as { cpu: unknown };
    expect(result.structuredContent).toMatchObject({ cpu: direct.cpu });
  });

  it("an API error comes back as a readable tool error", async () => {
    const result = await callTool("chat", { model: "nope", messages: [{ role: "user", content: "hi" }] });
    expect(result.isError).toBe(true);
    expect(text(result)).toBe("HTTP 404: The model `nope` does not exist or you do not have access to it.");
  });

  it("arguments that break the tool's schema are refused, naming the field", async () => {
    const result = await callTool("chat", { model: "mock-model", messages: [] });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/messages/);
  });

  it("an unknown tool is an error", async () => {
    const result = await callTool("mine_bitcoin");
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/mine_bitcoin/);
  });

  it("GET and DELETE /mcp (session streams) are 405 in stateless mode", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(`${node.url}/mcp`, { method, headers: { accept: "text/event-stream" } });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(await res.json()).toEqual({
        jsonrpc: "2.0",
        error: {
          code: -32000,
          message: "Method not allowed: this MCP server is stateless; POST JSON-RPC requests to /mcp.",
        },
        id: null,
      });
    }
  });
});

describe("/mcp with the marketplace on", () => {
  let server: RunningServer;
  let market: Client;

  beforeAll(async () => {
    const registry = new ModelRegistry([new MockBackend()], { log: silentLogger, refreshIntervalMs: 0 });
    await registry.refresh();
    // chainEnabled with no marketplace routes mounted: the listing changes; the calls reach the API (404 here).
    server = await startServer(createApp({ registry, log: silentLogger, chainEnabled: true }), {
      port: 0,
      log: silentLogger,
    });
    market = await connect(server.url);
  });
  afterAll(async () => {
    await market?.close();
    await server?.close();
  });

  it("lists the marketplace tools too, and passes their calls to the API", async () => {
    const { tools } = await market.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      "list_models",
      "chat",
      "embed",
      "hardware",
      "list_providers",
      "get_provider",
      "rent_compute",
      "get_session",
    ]);
    const result = (await market.callTool({ name: "get_session", arguments: { id: "7" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toBe("HTTP 404: Invalid URL (GET /v1/sessions/7)");
  });
});
