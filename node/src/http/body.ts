import { bodyTooLargeError, malformedJsonError } from "@jeju/compute-sdk/openai/index";
import type { Context } from "hono";
import { contentLength } from "./client.ts";

/**
 * Read a JSON body, refusing more than `limit` bytes: a declared Content-Length over the limit is
 * refused before reading; a chunked body is counted as it arrives and cut off at the limit.
 */
export async function readJsonBody(c: Context, limit: number): Promise<unknown> {
  const declared = contentLength(c);
  let text: string;
  if (declared !== null) {
    if (Number(declared) > limit) throw bodyTooLargeError(limit);
    text = await c.req.raw.text();
  } else {
    text = await readLimited(c.req.raw.body, limit);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw malformedJsonError(err);
  }
}

async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (body === null) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw bodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
