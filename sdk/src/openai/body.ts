import { bodyTooLargeError, malformedJsonError } from "./errors.ts";

/**
 * A request body's bytes, refusing more than `limit` as they stream in (for bodies without a trustworthy
 * Content-Length): the stream is cancelled and a 413 OpenAI error thrown at the first byte over the limit.
 */
export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array();
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
  return Buffer.concat(chunks);
}

/**
 * A request's JSON body, refusing more than `limit` bytes (a declared Content-Length over it before reading, a
 * chunked body as it arrives); malformed JSON is a 400 OpenAI error.
 */
export async function readJsonLimited(request: Request, limit: number): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw bodyTooLargeError(limit);
  const text = Buffer.from(await readBodyLimited(request.body, limit)).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw malformedJsonError(err);
  }
}
