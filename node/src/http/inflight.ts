import { OpenAIError } from "@jeju/compute-sdk/openai/index";
import { type ClientWatcher, RequestDeadline } from "./deadline.ts";

/**
 * Tracks the requests that are generating, so a shutdown can wait for them and then end the
 * stragglers cleanly (their streams get an error frame instead of a cut connection).
 */
export class InflightTracker {
  readonly #active = new Set<RequestDeadline>();
  #idle: (() => void) | undefined;

  /** A deadline for one request, tracked until `release`. */
  begin(watchClient: ClientWatcher, timeoutMs: number): RequestDeadline {
    const deadline = new RequestDeadline(watchClient, timeoutMs);
    this.#active.add(deadline);
    return deadline;
  }

  release(deadline: RequestDeadline): void {
    deadline.dispose();
    if (this.#active.delete(deadline) && this.#active.size === 0) this.#idle?.();
  }

  get size(): number {
    return this.#active.size;
  }

  /** Wait until nothing is in flight or `timeoutMs` passed; then abort what remains. */
  async drain(timeoutMs: number): Promise<{ aborted: number }> {
    if (this.#active.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#idle = undefined;
    }
    const aborted = this.#active.size;
    const reason = new OpenAIError(503, "The server is shutting down.", {
      type: "service_unavailable_error",
      code: "server_shutdown",
    });
    for (const d of this.#active) d.abort(reason);
    return { aborted };
  }
}
