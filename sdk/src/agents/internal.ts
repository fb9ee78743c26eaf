/**
 * Agents (A2A, MCP) call the app's own HTTP API in-process (a provider node's, or the marketplace gateway's): the
 * same validation, error bodies, model routing, payments and marketplace wiring as an outside client gets, with
 * no second implementation of any of it. A skill or tool is a thin translation of its arguments to one of these
 * calls.
 */

export type NodeCallRequest = {
  method: "GET" | "POST" | "DELETE";
  /** Path and query on this node, e.g. `/v1/chat/completions`. */
  path: string;
  /** JSON body (POST). */
  body?: unknown;
  /** Extra headers passed through from the agent's own request (payment, signatures). */
  headers?: Record<string, string>;
  /** Aborts the call (the API sees its client go: a streaming generation stops). */
  signal?: AbortSignal;
};

export type NodeCallResult = {
  status: number;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: unknown;
  headers: Headers;
};

export type NodeCall = (request: NodeCallRequest) => Promise<NodeCallResult>;

/** Request headers an agent may pass through to the API call it triggers. */
export const PASSTHROUGH_HEADERS = ["x-payment", "payment-signature", "x-compute-signature", "authorization"] as const;

/** The app's API in-process, answering with the raw Response (for streams). */
export type NodeStream = (request: NodeCallRequest) => Promise<Response>;

export function internalStreamer(fetch: (request: Request) => Response | Promise<Response>): NodeStream {
  return async ({ method, path, body, headers, signal }) => {
    const init: RequestInit = { method, headers: { ...headers }, ...(signal ? { signal } : {}) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    return fetch(new Request(`http://node.internal${path}`, init));
  };
}

export function internalCaller(fetch: (request: Request) => Response | Promise<Response>): NodeCall {
  const raw = internalStreamer(fetch);
  return async (request) => {
    const res = await raw(request);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** The pass-through headers present on an incoming request. */
function passthroughHeaders(get: (name: string) => string | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSTHROUGH_HEADERS) {
    const v = get(name);
    if (v !== undefined && v !== null && v !== "") out[name] = v;
  }
  return out;
}

/** `call`, carrying the agent request's pass-through headers (payment, signatures) on every API call. */
export function withHeaders<T>(
  call: (request: NodeCallRequest) => Promise<T>,
  get: (name: string) => string | undefined | null,
): (request: NodeCallRequest) => Promise<T> {
  const headers = passthroughHeaders(get);
  return (req) => call({ ...req, headers: { ...headers, ...req.headers } });
}

/** The OpenAI-shaped error message in a failed call's body, or a generic one. */
export function errorMessage(result: NodeCallResult): string {
  const b = result.body as { error?: { message?: unknown } } | undefined;
  const m = b?.error?.message;
  return typeof m === "string" ? m : `request failed with HTTP ${result.status}`;
}

/** The part of a pino logger the agents use. */
export type AgentLogger = { error(obj: object, msg: string): void };

/** What the agent front-ends (A2A, MCP) get from the app. */
export type AgentDeps = {
  /** This node's HTTP API, in-process. */
  call: NodeCall;
  /** The same, answering with the raw Response: A2A streams inference with it (`SendStreamingMessage`). */
  stream?: NodeStream;
  log: AgentLogger;
  version: string;
  /** Whether marketplace routes (providers, sessions) are on. */
  chainEnabled: boolean;
  /**
   * Who answers: a provider node (its own models and machine), or the marketplace gateway (the relayer: models
   * of every provider, routed to the cheapest live one; no machine of its own). Default "node".
   */
  role?: "node" | "gateway";
};
