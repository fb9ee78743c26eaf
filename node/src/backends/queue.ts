/**
 * A push queue read as an async iterator: callbacks (node-llama-cpp's onTextChunk) push, the route pulls.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #waiting: ((r: IteratorResult<T>) => void) | undefined;
  #failWaiting: ((err: unknown) => void) | undefined;
  #ended = false;
  #error: { err: unknown } | undefined;
  readonly #onReturn: (() => void) | undefined;

  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  push(item: T): void {
    if (this.#ended) return;
    const wake = this.#waiting;
    if (wake !== undefined) {
      this.#waiting = this.#failWaiting = undefined;
      wake({ done: false, value: item });
    } else this.#items.push(item);
  }

  end(): void {
    this.#ended = true;
    if (this.#items.length === 0) this.#wakeDone();
  }

  fail(err: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = { err };
    if (this.#items.length === 0) {
      const fail = this.#failWaiting;
      this.#waiting = this.#failWaiting = undefined;
      fail?.(err);
    }
  }

  #wakeDone(): void {
    const wake = this.#waiting;
    this.#waiting = this.#failWaiting = undefined;
    wake?.({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve({ done: false, value: item });
    if (this.#error !== undefined) return Promise.reject(this.#error.err);
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#ended) {
      this.#ended = true;
      this.#onReturn?.();
    }
    this.#items = [];
    this.#wakeDone();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
