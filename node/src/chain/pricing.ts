/**
 * Per-token model prices as this provider registered them on-chain (`ComputeRegistry.getModels`), so the
 * 402s the node asks for always match what the marketplace shows. Refreshed in the background; reads are
 * synchronous from the last snapshot (the x402 middleware prices every request).
 */
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import type { ModelPrice } from "@jeju/compute-sdk/x402/index";
import type { Address } from "viem";
import type { Logger } from "../logger.ts";
import type { ChainContext } from "./context.ts";

export type OnChainPricing = {
  /** The price of `model`, or undefined when the provider registered none (free). */
  priceOf(model: string): ModelPrice | undefined;
  /** Re-read the prices now. */
  refresh(): Promise<void>;
  close(): void;
};

export async function onChainPricing(
  ctx: ChainContext,
  provider: Address,
  options: { refreshMs?: number; log?: Logger } = {},
): Promise<OnChainPricing> {
  let prices = new Map<string, ModelPrice>();
  const refresh = async () => {
    const models = await ctx.publicClient.readContract({
      address: ctx.deployments.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "getModels",
      args: [provider],
    });
    prices = new Map(
      models.map((m) => [m.name, { inputPerToken: m.inputPricePerToken, outputPerToken: m.outputPricePerToken }]),
    );
  };
  await refresh();
  options.log?.info(
    { models: Object.fromEntries([...prices].map(([k, v]) => [k, `${v.inputPerToken}/${v.outputPerToken}`])) },
    "per-token prices read from the registry (input/output, USDC base units)",
  );
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => options.log?.warn({ err }, "could not refresh model prices"));
  }, options.refreshMs ?? 15_000);
  timer.unref();
  return { priceOf: (model) => prices.get(model), refresh, close: () => clearInterval(timer) };
}

/**
 * Prices a request by the name it used and, failing that, by the model that name is served by: an alias
 * (MODEL_ALIASES, FALLBACK_MODELS, a backend's short name) of a priced model costs what the model costs, so
 * no alias is a way around the 402. A price registered for the alias itself wins.
 */
export function aliasAwarePricing(
  priceOf: (model: string) => ModelPrice | undefined,
  servedModel: (name: string) => string | undefined,
): (model: string) => ModelPrice | undefined {
  return (model) => {
    const own = priceOf(model);
    if (own !== undefined) return own;
    const served = servedModel(model);
    return served !== undefined && served !== model ? priceOf(served) : undefined;
  };
}
