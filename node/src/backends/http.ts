/**
 * Fetch helpers shared by the upstream adapters: connection failures become 503, aborts pass through.
 */
import { backendUnavailableError } from "@jeju/compute-sdk/openai/index";

/** fetch() that throws the caller's abort reason on abort and a 503 when the upstream cannot be reached. */
export async function upstreamFetch(
  backend: string,
  url: string,
  init: RequestInit & { signal?: AbortSignal },
): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (init.signal?.aborted) throw init.signal.reason;
    throw backendUnavailableError(backend, err);
  }
}

/** Read a failed response's body as text (bounded), for error messages. */
export async function errorText(res: Response): Promise<string> {
  try {
    const text = await res.text();
    return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
  } catch {
    return "";
  }
}
