/**
 * MCP (Model Context Protocol) over streamable HTTP at `/mcp`, with the official SDK.
 *
 * Stateless: every POST gets a fresh McpServer and transport (no session ids to track or leak; each tool
 * call is one API call anyway), answered as plain JSON. GET and DELETE, which only make sense for
 * sessions, get 405 from the transport.
 *
 * Tools are thin translations to this node's own API (see internal.ts), so an agent gets exactly the
 * answers, errors and prices an HTTP client gets. Marketplace tools are listed only when the node runs
 * with a chain. A failed call is a tool result with `isError` and the API's error message (MCP's rule:
 * tool failures are results the model can read, not protocol errors).
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { Hono } from "hono";
import { z } from "zod";
import { type AgentDeps, errorMessage, type NodeCall, type NodeCallRequest, withHeaders } from "./internal.ts";

const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.string(),
});

type ChatAnswer = { choices?: Array<{ message?: { content?: string | null } }> };

export function mcpRoute(deps: AgentDeps): Hono {
  const app = new Hono();
  // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
  app.on(["GET", "DELETE"], "/", (c) =>
    c.json(
      {
        jsonrpc: "2.0",
        error: {
          code: -32000,
          message: "Method not allowed: this MCP server is stateless; POST JSON-RPC requests to /mcp.",
        },
        id: null,
      },
      405,
      { Allow: "POST" },
    ),
  );
  app.post("/", async (c) => {
    const server = buildServer(
      deps,
      withHeaders(deps.call, (n) => c.req.header(n)),
    );
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw);
    } finally {
      // The JSON answer is complete once handleRequest returns; closing frees the per-request server.
      void server.close().catch(() => {});
    }
  });
  return app;
}

function buildServer(deps: AgentDeps, call: NodeCall): McpServer {
  const server = new McpServer(
    deps.role === "gateway"
      ? { name: "compute-gateway", title: "Compute marketplace gateway", version: deps.version }
      : { name: "compute-node", title: "Compute provider node", version: deps.version },
    {
      instructions:
        (deps.role === "gateway"
          ? "Inference on every provider's models (OpenAI-compatible, routed to the cheapest live provider), embeddings"
          : "Inference on this provider's models (OpenAI-compatible), embeddings, this machine's hardware") +
        (deps.chainEnabled ? ", and the Compute marketplace: providers and GPU rentals." : "."),
    },
  );

  /** Run one API call: the JSON answer as text and structured content, or the API's error as a tool error. */
  const run = async (req: NodeCallRequest, text?: (body: unknown) => string): Promise<CallToolResult> => {
    const res = await call(req);
    if (res.status >= 400) {
      const detail = res.status === 402 ? `\n${JSON.stringify(res.body)}` : "";
      return {
        isError: true,
        content: [{ type: "text", text: `HTTP ${res.status}: ${errorMessage(res)}${detail}` }],
      };
    }
    const body = res.body;
    const structured =
      body !== null && typeof body === "object" && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : { result: body };
    return {
      content: [{ type: "text", text: text ? text(body) : JSON.stringify(body) }],
      structuredContent: structured,
    };
  };

  server.registerTool(
    "list_models",
    {
      title: "List models",
      description:
        "The models served here: a node's own, or at the gateway every active provider's (OpenAI /v1/models).",
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () => run({ method: "GET", path: "/v1/models" }),
  );

  server.registerTool(
    "chat",
    {
      title: "Chat completion",
      description:
        "Ask a model served here (OpenAI chat completions; at the gateway, routed to the cheapest live provider serving it). Returns the assistant's reply as text and the full completion (usage, finish_reason) as structured content.",
      inputSchema: {
        model: z.string().min(1).describe("Model id from list_models"),
        messages: z.array(message).min(1),
        max_tokens: z.number().int().min(1).optional(),
        temperature: z.number().min(0).max(2).optional(),
        top_p: z.number().min(0).max(1).optional(),
        seed: z.number().int().optional(),
        stop: z.union([z.string(), z.array(z.string())]).optional(),
        json_schema: z
          .record(z.string(), z.unknown())
          .optional()
          .describe("Answer in JSON that follows this JSON Schema (structured output)"),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ json_schema, ...args }) =>
      run(
        {
          method: "POST",
          path: "/v1/chat/completions",
          body: {
            ...args,
            stream: false,
            ...(json_schema !== undefined
              ? { response_format: { type: "json_schema", json_schema: { name: "answer", schema: json_schema } } }
              : {}),
          },
        },
        (body) => {
          const content = (body as ChatAnswer).choices?.[0]?.message?.content;
          return typeof content === "string" ? content : JSON.stringify(body);
        },
      ),
  );

  server.registerTool(
    "embed",
    {
      title: "Embeddings",
      description: "Embedding vectors for one or more texts (OpenAI embeddings).",
      inputSchema: {
        model: z.string().min(1),
        input: z.union([z.string(), z.array(z.string()).min(1)]),
        dimensions: z.number().int().min(1).optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) => run({ method: "POST", path: "/v1/embeddings", body: { ...args, encoding_format: "float" } }),
  );

  // A gateway has no machine of its own to describe.
  if (deps.role !== "gateway")
    server.registerTool(
      "hardware",
      {
        title: "Hardware",
        description: "This machine's detected hardware: CPU, memory, disk, GPUs (nvidia-smi), TEE devices.",
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      () => run({ method: "GET", path: "/v1/hardware" }),
    );

  if (!deps.chainEnabled) return server;

  server.registerTool(
    "list_providers",
    {
      title: "List providers",
      description: "Providers in the Compute marketplace, from the indexer: models, prices, GPUs, status.",
      inputSchema: {
        model: z.string().optional().describe("Only providers serving this model"),
        minAvailableGpus: z.number().int().min(0).optional(),
        sort: z.enum(["price_asc", "price_desc"]).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    (args) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(args)) if (v !== undefined) q.set(k, String(v));
      const qs = q.toString();
      return run({ method: "GET", path: `/v1/providers${qs ? `?${qs}` : ""}` });
    },
  );

  server.registerTool(
    "get_provider",
    {
      title: "Get provider",
      description: "One provider's details (`provider-0x…` or its address).",
      inputSchema: { id: z.string().min(1) },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    ({ id }) => run({ method: "GET", path: `/v1/providers/${encodeURIComponent(id)}` }),
  );

  server.registerTool(
    "rent_compute",
    {
      title: "Rent compute",
      description:
        "Rent this provider's machine with SSH access. Without a payment this returns the price quote (HTTP 402 terms); with `authorization` and `signature` (an EIP-3009 USDC authorization) the relayer opens the session gaslessly.",
      inputSchema: {
        providerId: z.string().min(1),
        durationHours: z.number().int().min(1),
        sshPublicKey: z.string().min(1),
        gpuCount: z.number().int().min(0).optional(),
        paymentToken: z.string().optional(),
        authorization: z.record(z.string(), z.unknown()).optional(),
        signature: z.string().optional(),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    },
    (args) => run({ method: "POST", path: "/v1/sessions", body: args }),
  );

  server.registerTool(
    "get_session",
    {
      title: "Get session",
      description: "A rental session's status, times, amounts and SSH endpoint.",
      inputSchema: { id: z.string().regex(/^\d+$/) },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    ({ id }) => run({ method: "GET", path: `/v1/sessions/${id}` }),
  );

  return server;
}
