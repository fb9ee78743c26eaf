import { timeoutError } from "@jeju/compute-sdk/openai/index";
import type { AbortHandle } from "../backends/types.ts";

/** Registers `onGone` to run if the client disconnects; returns a function that unregisters it. */
export type ClientWatcher = (onGone: (reason: unknown) => void) => () => void;

/**
 * One request's cancellation: aborted when the client goes away, when the request runs past the
 * timeout (reason: a 504 OpenAIError), or when the caller (a stream's cancel) says so.
 *
 * An AbortController costs more than the rest of a small request (AbortSignal is transferable), so the
 * real signal is only made when a backend asks for it (fetch, the engine); the mock just reads `aborted`.
 */
export class RequestDeadline implements AbortHandle {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  #timer: NodeJS.Timeout | undefined;
  #unwatch: (() => void) | undefined;

  constructor(watchClient: ClientWatcher, timeoutMs: number) {
    this.#timer = setTimeout(() => this.abort(timeoutError(timeoutMs)), timeoutMs);
    this.#unwatch = watchClient((reason) => this.abort(reason));
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
    this.dispose();
  }

  /** Stop the timer and the client watch (the request is over). */
  dispose(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#unwatch?.();
    this.#unwatch = undefined;
  }
}
