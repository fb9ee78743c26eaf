import { timeoutError } from "@jeju/compute-sdk/openai/index";
import type { AbortHandle } from "../backends/types.ts";

/** Whether the client has gone away (polled; see InflightTracker). */
export type ClientGone = () => boolean;

/**
 * One request's cancellation: aborted when the client goes away, when the request runs past its
 * deadline (reason: a 504 OpenAIError), or when the caller (a stream's cancel) says so.
 *
 * Nothing here costs per request beyond an object: no timer, no listener, and the real AbortSignal
 * (AbortSignal is transferable, so expensive to make) only when a backend asks for it (fetch, the
 * engine). The InflightTracker's sweep enforces deadlines and notices gone clients.
 */
export class RequestDeadline implements AbortHandle {
  readonly deadlineAt: number;
  readonly timeoutMs: number;
  readonly clientGone: ClientGone;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(clientGone: ClientGone, timeoutMs: number, now = performance.now()) {
    this.clientGone = clientGone;
    this.timeoutMs = timeoutMs;
    this.deadlineAt = now + timeoutMs;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** Called by the sweep: abort if past the deadline or the client left. */
  check(now: number): void {
    if (this.#aborted) return;
    if (now >= this.deadlineAt) this.abort(timeoutError(this.timeoutMs));
    else if (this.clientGone()) this.abort(new Error("client disconnected"));
  }
}
