/**
 * Where the gateway's providers come from, and what makes one safe to call.
 *
 * - Discovery: the indexer (`listProviders({model, active: true})`), cached briefly per model. When the indexer
 *   fails, the last answer (up to `staleMs` old) is used, since every provider is checked on-chain anyway.
 * - Trust: before a request is proxied, the registry itself (`ComputeRegistry.getProvider`, cached a few
 *   seconds) must say the provider is registered, active and has exactly the endpoint about to be called.
 *   The indexer is only a hint; an endpoint never comes from the request.
 * - Ordering: input + output price per token ascending, then a latency EWMA (time to response headers);
 *   providers that failed in the last `cooldownMs` go after the healthy ones (still tried as a last resort).
 */
import type { IndexerClient, Provider } from "@jeju/compute-sdk/indexer/index";
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import { type Address, getAddress, type PublicClient } from "viem";
import type { Logger } from "../logger.ts";

export type Candidate = {
  /** Checksummed. */
  address: Address;
  /** The endpoint as registered (what the indexer reported). */
  endpoint: string;
  inputPricePerToken: bigint;
  outputPricePerToken: bigint;
  /** Registration time (unix seconds), for `/v1/models` `created`. */
  registeredAt: bigint;
};

/** What the registry says about a provider: the fields the gateway trusts. */
export type OnChainProvider = { registered: boolean; active: boolean; endpoint: string };
export type RegistryReader = (address: Address) => Promise<OnChainProvider>;

export type Verdict = { ok: true; baseUrl: string } | { ok: false; reason: string };

export type DirectoryOptions = {
  indexer: Pick<IndexerClient, "listProviders">;
  readProvider: RegistryReader;
  log: Logger;
  /** How long an indexer answer is reused (default 2 000 ms). */
  providersCacheMs?: number;
  /** How long an indexer answer may still be used while the indexer fails (default 30 000 ms). */
  staleMs?: number;
  /** How long an on-chain read is reused (default 3 000 ms). */
  chainCacheMs?: number;
  /** How long a provider that failed is ordered after the healthy ones (default 15 000 ms). */
  cooldownMs?: number;
  now?: () => number;
};

/** The base URL to call for a registered endpoint, or undefined when it is not a plain http(s) URL. */
export function endpointBase(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** Reads `ComputeRegistry.getProvider(address)`. */
export function registryReader(client: PublicClient, registry: Address): RegistryReader {
  return async (address) => {
    const info = await client.readContract({
      address: registry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [address],
    });
    return { registered: info.registered, active: info.active, endpoint: info.endpoint };
  };
}

type Cached<T> = { at: number; value: T };

/** Set `key` as the newest entry; drop the oldest past {@link MAX_CACHED}. */
function bounded<K, V>(map: Map<K, V>, key: K, value: V) {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_CACHED) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

const PAGE = 1000;
const MAX_PAGES = 20;
const MAX_CACHED = 1000;
const EWMA_ALPHA = 0.3;

export class ProviderDirectory {
  private readonly o: Required<Omit<DirectoryOptions, "now">> & { now: () => number };
  private readonly lists = new Map<string, Cached<Promise<Provider[]>>>();
  private readonly lastGood = new Map<string, Cached<Provider[]>>();
  private readonly chain = new Map<Address, Cached<Promise<OnChainProvider>>>();
  private readonly health = new Map<Address, { ewmaMs?: number; failedAt?: number }>();

  constructor(options: DirectoryOptions) {
    this.o = {
      indexer: options.indexer,
      readProvider: options.readProvider,
      log: options.log,
      providersCacheMs: options.providersCacheMs ?? 2_000,
      staleMs: options.staleMs ?? 30_000,
      chainCacheMs: options.chainCacheMs ?? 3_000,
      cooldownMs: options.cooldownMs ?? 15_000,
      now: options.now ?? (() => performance.now()),
    };
  }

  /** Active providers (serving `model` when given), from the indexer or the brief cache. */
  providers(model?: string): Promise<Provider[]> {
    const key = model === undefined ? "*" : `m:${model}`;
    const now = this.o.now();
    const hit = this.lists.get(key);
    if (hit !== undefined && now - hit.at < this.o.providersCacheMs) return hit.value;
    const value = this.fetchAll(model).then(
      (providers) => {
        bounded(this.lastGood, key, { at: now, value: providers });
        return providers;
      },
      (err: unknown) => {
        if (this.lists.get(key)?.value === value) this.lists.delete(key);
        const good = this.lastGood.get(key);
        if (good !== undefined && now - good.at < this.o.staleMs) {
          this.o.log.warn(
            { err, model, ageMs: Math.round(now - good.at) },
            "gateway: indexer failed, using its last answer",
          );
          return good.value;
        }
        throw err;
      },
    );
    bounded(this.lists, key, { at: now, value });
    return value;
  }

  private async fetchAll(model: string | undefined): Promise<Provider[]> {
    const out: Provider[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const { providers } = await this.o.indexer.listProviders({
        ...(model === undefined ? {} : { model }),
        active: true,
        limit: PAGE,
        offset: page * PAGE,
      });
      out.push(...providers);
      if (providers.length < PAGE) break;
    }
    return out;
  }

  /** Providers serving `model` with a usable endpoint, best first (price, then health and latency). */
  async candidates(model: string): Promise<Candidate[]> {
    const list = await this.providers(model);
    const out: Candidate[] = [];
    const seen = new Set<Address>();
    for (const p of list) {
      const m = p.models.find((x) => x.name === model);
      const address = getAddress(p.address);
      if (!p.active || m === undefined || seen.has(address) || endpointBase(p.endpoint) === undefined) continue;
      seen.add(address);
      out.push({
        address,
        endpoint: p.endpoint,
        inputPricePerToken: m.inputPricePerToken,
        outputPricePerToken: m.outputPricePerToken,
        registeredAt: p.registeredAt,
      });
    }
    return this.order(out);
  }

  /** Sort: healthy before recently failed; then price per token (input + output); then latency EWMA. */
  order(list: Candidate[]): Candidate[] {
    const now = this.o.now();
    const rank = (c: Candidate) => {
      const h = this.health.get(c.address);
      const cooling = h?.failedAt !== undefined && now - h.failedAt < this.o.cooldownMs ? 1 : 0;
      return { cooling, price: c.inputPricePerToken + c.outputPricePerToken, ewma: h?.ewmaMs ?? 0 };
    };
    const ranked = list.map((c) => ({ c, r: rank(c) }));
    ranked.sort((a, b) => {
      if (a.r.cooling !== b.r.cooling) return a.r.cooling - b.r.cooling;
      if (a.r.price !== b.r.price) return a.r.price < b.r.price ? -1 : 1;
      if (a.r.ewma !== b.r.ewma) return a.r.ewma - b.r.ewma;
      return a.c.address.toLowerCase() < b.c.address.toLowerCase() ? -1 : 1;
    });
    return ranked.map((x) => x.c);
  }

  /**
   * Whether `c` may be called now: registered and active on-chain, and its on-chain endpoint is exactly the
   * one the indexer gave (and an http(s) URL). On success, the base URL to call.
   */
  async verify(c: Candidate): Promise<Verdict> {
    const info = await this.readChain(c.address);
    if (!info.registered) return { ok: false, reason: "not registered on-chain" };
    if (!info.active) return { ok: false, reason: "not active on-chain" };
    if (info.endpoint !== c.endpoint) {
      return { ok: false, reason: `on-chain endpoint ${JSON.stringify(info.endpoint)} differs from the indexer's` };
    }
    const baseUrl = endpointBase(info.endpoint);
    if (baseUrl === undefined) return { ok: false, reason: "endpoint is not an http(s) URL" };
    return { ok: true, baseUrl };
  }

  private async readChain(address: Address): Promise<OnChainProvider> {
    const now = this.o.now();
    const hit = this.chain.get(address);
    if (hit !== undefined && now - hit.at < this.o.chainCacheMs) return hit.value;
    const value = this.o.readProvider(address);
    value.catch(() => {
      if (this.chain.get(address)?.value === value) this.chain.delete(address);
    });
    bounded(this.chain, address, { at: now, value });
    return value;
  }

  /** A response arrived (status below 500) after `ms` to headers. */
  recordSuccess(address: Address, ms: number): void {
    const h = this.health.get(address) ?? {};
    h.ewmaMs = h.ewmaMs === undefined ? ms : EWMA_ALPHA * ms + (1 - EWMA_ALPHA) * h.ewmaMs;
    h.failedAt = undefined;
    this.health.set(address, h);
  }

  /** The provider failed (connection, timeout, 5xx): ordered last for `cooldownMs`. */
  recordFailure(address: Address): void {
    const h = this.health.get(address) ?? {};
    h.failedAt = this.o.now();
    this.health.set(address, h);
  }

  /** Latency EWMA and failure time of a provider (for tests and logs). */
  healthOf(address: Address): { ewmaMs?: number; failedAt?: number } | undefined {
    return this.health.get(getAddress(address));
  }
}
