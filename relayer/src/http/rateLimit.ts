/**
 * Per-key token bucket (keys: payer addresses). `capacity` requests in a burst, refilled at `perSecond`.
 * In memory: a relayer replica limits what reaches it.
 */
export type RateLimitOptions = { capacity: number; perSecond: number; maxKeys?: number };

export class RateLimiter {
  readonly #o: Required<RateLimitOptions>;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimitOptions) {
    this.#o = { maxKeys: 100_000, ...options };
  }

  /** Take one token for `key`; returns 0 if allowed, else the ms until one is available. */
  take(key: string, now = Date.now()): number {
    const k = key.toLowerCase();
    const b = this.#buckets.get(k) ?? { tokens: this.#o.capacity, at: now };
    b.tokens = Math.min(this.#o.capacity, b.tokens + ((now - b.at) / 1000) * this.#o.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.#buckets.set(k, b);
      return Math.ceil(((1 - b.tokens) / this.#o.perSecond) * 1000);
    }
    b.tokens -= 1;
    this.#buckets.delete(k);
    this.#buckets.set(k, b);
    if (this.#buckets.size > this.#o.maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    return 0;
  }
}
