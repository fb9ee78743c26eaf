import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rateLimit.ts";

describe("RateLimiter", () => {
  it("allows a burst, then refills at the rate, per key (case-insensitive)", () => {
    const rl = new RateLimiter({ capacity: 2, perSecond: 1 });
    expect(rl.take("0xAbc", 0)).toBe(0);
    expect(rl.take("0xabc", 0)).toBe(0);
    expect(rl.take("0xABC", 0)).toBe(1000);
    expect(rl.take("0xdef", 0)).toBe(0);
    expect(rl.take("0xabc", 1000)).toBe(0);
  });
});
