/**
 * The relayer's inference gateway ("a decentralized OpenAI"): `/v1` routed to registered providers.
 */
import { createIndexerClient, type IndexerClient } from "@jeju/compute-sdk/indexer/index";
import type { Address, PublicClient } from "viem";
import type { Logger } from "../logger.ts";
import { type DirectoryOptions, ProviderDirectory, registryReader } from "./directory.ts";
import { Gateway } from "./gateway.ts";

export * from "./directory.ts";
export * from "./gateway.ts";
export * from "./payee.ts";
export * from "./routes.ts";

export const DEFAULT_INDEXER_URL = "http://127.0.0.1:42069";

export type CreateGatewayOptions = {
  /** Indexer base URL (default http://127.0.0.1:42069), or a client. */
  indexerUrl?: string;
  indexer?: Pick<IndexerClient, "listProviders">;
  publicClient: PublicClient;
  /** ComputeRegistry address. */
  registry: Address;
  log: Logger;
  timeoutMs?: number;
  maxBodyBytes?: number;
  fetch?: typeof fetch;
} & Pick<DirectoryOptions, "providersCacheMs" | "staleMs" | "chainCacheMs" | "cooldownMs">;

export function createGateway(o: CreateGatewayOptions): Gateway {
  const indexer = o.indexer ?? createIndexerClient(o.indexerUrl ?? DEFAULT_INDEXER_URL, { timeoutMs: 5_000 });
  const directory = new ProviderDirectory({
    indexer,
    readProvider: registryReader(o.publicClient, o.registry),
    log: o.log,
    providersCacheMs: o.providersCacheMs,
    staleMs: o.staleMs,
    chainCacheMs: o.chainCacheMs,
    cooldownMs: o.cooldownMs,
  });
  return new Gateway({ directory, log: o.log, timeoutMs: o.timeoutMs, maxBodyBytes: o.maxBodyBytes, fetch: o.fetch });
}
