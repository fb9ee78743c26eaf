import { describe, expect, it } from "vitest";
import { MockBackend } from "../backends/mock.ts";
import { ModelRegistry } from "../backends/registry.ts";
import { silentLogger } from "../logger.ts";
import { aliasAwarePricing } from "./pricing.ts";

describe("aliasAwarePricing", () => {
  it("charges an alias what the model it is served by costs; the alias's own price wins; free stays free", async () => {
    const registry = new ModelRegistry([new MockBackend({ aliases: ["mock"] })], {
      aliases: { cheap: "mock-model" },
      fallbackAliases: { llama2: "mock-model" },
      log: silentLogger,
      refreshIntervalMs: 0,
    });
    await registry.refresh();
    const onChain = new Map([
      ["mock-model", { inputPerToken: 2n, outputPerToken: 5n }],
      ["cheap", { inputPerToken: 1n, outputPerToken: 1n }],
    ]);
    const price = aliasAwarePricing(
      (m) => onChain.get(m),
      (name) => registry.peek(name)?.backendModel,
    );
    expect(price("mock-model")).toEqual({ inputPerToken: 2n, outputPerToken: 5n });
    expect(price("llama2")).toEqual({ inputPerToken: 2n, outputPerToken: 5n });
    expect(price("mock")).toEqual({ inputPerToken: 2n, outputPerToken: 5n });
    expect(price("cheap")).toEqual({ inputPerToken: 1n, outputPerToken: 1n });
    expect(price("unknown-model")).toBeUndefined();
    const free = aliasAwarePricing(
      () => undefined,
      (name) => registry.peek(name)?.backendModel,
    );
    expect(free("llama2")).toBeUndefined();
  });
});
