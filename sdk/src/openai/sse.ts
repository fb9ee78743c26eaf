/**
 * Server-sent events as OpenAI streams them (`data: {json}\n\n` … `data: [DONE]\n\n`), and readers for
 * the two streaming wire formats upstreams speak: SSE (OpenAI-compatible servers) and NDJSON (Ollama).
 */

export const SSE_DONE = "data: [DONE]\n\n";

export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
};

/** Lines of a byte stream, split on `\n` (a trailing `\r` is dropped). */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl = buffer.indexOf("\n");
      while (nl !== -1) {
        let line = buffer.slice(0, nl);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        buffer = buffer.slice(nl + 1);
        yield line;
        nl = buffer.indexOf("\n");
      }
    }
    buffer += decoder.decode();
    if (buffer.length > 0) yield buffer.endsWith("\r") ? buffer.slice(0, -1) : buffer;
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

export type SSEEvent = { event: string | undefined; data: string };

/** Parse an SSE stream into events (the `data:` lines of an event joined with `\n`). */
export async function* readSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent> {
  let data: string[] = [];
  let event: string | undefined;
  for await (const line of readLines(body)) {
    if (line === "") {
      if (data.length > 0) yield { event, data: data.join("\n") };
      data = [];
      event = undefined;
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
  }
  if (data.length > 0) yield { event, data: data.join("\n") };
}

/** Parse an NDJSON stream: one JSON value per non-empty line. */
export async function* readNDJSON(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  for await (const line of readLines(body)) {
    if (line.trim() === "") continue;
    yield JSON.parse(line) as unknown;
  }
}
