import { timeoutError } from "@jeju/compute-sdk/openai/index";

/**
 * One AbortController per request: aborted when the client goes away, when the request runs past the
 * timeout (reason: a 504 OpenAIError), or when the caller (a stream's cancel) says so.
 */
export class RequestDeadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #clientSignal: AbortSignal;
  readonly #onClientAbort = () => this.abort(this.#clientSignal.reason ?? new Error("client disconnected"));

  constructor(clientSignal: AbortSignal, timeoutMs: number) {
    this.#clientSignal = clientSignal;
    this.#timer = setTimeout(() => this.abort(timeoutError(timeoutMs)), timeoutMs);
    if (clientSignal.aborted) this.#onClientAbort();
    else clientSignal.addEventListener("abort", this.#onClientAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
    this.dispose();
  }

  /** Stop the timer and the client listener (the request is over). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#clientSignal.removeEventListener("abort", this.#onClientAbort);
  }
}
