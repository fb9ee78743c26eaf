/**
 * Builds `providersRoutes` options from the node's configuration: the indexer URL, and (when known) the
 * deployments file for USDC's address and the registry the chain fallback reads.
 *
 *   app.route("/", providersRoutes(marketplaceOptions({ indexerUrl, rpcUrl, deploymentsFile })));
 */
import { readFileSync } from "node:fs";
import { createPublicClient, getAddress, http, isAddress, zeroAddress } from "viem";
import type { ProvidersRoutesOptions } from "./routes.ts";

export type MarketplaceConfig = {
  /** INDEXER_URL, e.g. http://127.0.0.1:42069. */
  indexerUrl: string;
  /** RPC_URL: enables the chain fallback for single providers. */
  rpcUrl?: string;
  /** DEPLOYMENTS_FILE (deployments/<chainId>.json): ComputeRegistry and USDC addresses. */
  deploymentsFile?: string;
};

export function marketplaceOptions(config: MarketplaceConfig): ProvidersRoutesOptions {
  const options: ProvidersRoutesOptions = { indexer: config.indexerUrl };
  if (config.deploymentsFile === undefined) return options;
  const d = JSON.parse(readFileSync(config.deploymentsFile, "utf8")) as Record<string, unknown>;
  const addr = (v: unknown) => (typeof v === "string" && isAddress(v, { strict: false }) ? getAddress(v) : undefined);
  const usdc = addr(d.USDC);
  const registry = addr(d.ComputeRegistry);
  if (usdc !== undefined && usdc !== zeroAddress) options.usdc = usdc;
  if (config.rpcUrl !== undefined && registry !== undefined) {
    options.chain = {
      client: createPublicClient({ transport: http(config.rpcUrl) }),
      registry,
      tokens: options.usdc === undefined ? [] : [options.usdc],
    };
  }
  return options;
}
