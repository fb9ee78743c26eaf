import { bodyTooLargeError, malformedJsonError, readBodyLimited } from "@jeju/compute-sdk/openai/index";
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
    text = Buffer.from(await readBodyLimited(c.req.raw.body, limit)).toString("utf8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw malformedJsonError(err);
  }
}
