import { OpenAIError } from "@jeju/compute-sdk/openai/index";
import { type ClientGone, RequestDeadline } from "./deadline.ts";

/** How often deadlines and client connections are checked (ms). */
export const SWEEP_INTERVAL_MS = 25;

/**
 * Tracks the requests that are generating: one timer for all of them checks deadlines and gone
 * clients every SWEEP_INTERVAL_MS (cheaper than a timer and a listener per request), and a shutdown
 * can wait for them and then end the stragglers cleanly (their streams get an error frame).
 */
export class InflightTracker {
  readonly #active = new Set<RequestDeadline>();
  #sweeper: NodeJS.Timeout | undefined;
  #idle: (() => void) | undefined;

  /** A deadline for one request, tracked until `release`. */
  begin(clientGone: ClientGone, timeoutMs: number): RequestDeadline {
    const deadline = new RequestDeadline(clientGone, timeoutMs);
    this.#active.add(deadline);
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.#sweeper.unref();
    }
    return deadline;
  }

  release(deadline: RequestDeadline): void {
    if (this.#active.delete(deadline) && this.#active.size === 0) this.#idle?.();
  }

  /** Abort requests past their deadline or whose client left. */
  sweep(): void {
    const now = performance.now();
    for (const d of this.#active) d.check(now);
  }

  get size(): number {
    return this.#active.size;
  }

  /** Wait until nothing is in flight or `timeoutMs` passed; then abort what remains and stop sweeping. */
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
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    return { aborted };
  }
}
