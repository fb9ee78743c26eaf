/**
 * Marketplace reads (the node's and the gateway's), served from the indexer:
 *   GET /v1/providers                    providers (filters: model, minGpus, minAvailableGpus, tee, maxPrice,
 *                                        token, sort; active=true (default) | false | all)
 *   GET /v1/providers/:id                one provider; `:id` is an address in any case or "provider-0x…"
 *   GET /v1/providers/:id/attestation    TEE type, verification, attestation report, measurements
 *
 * Mount with `app.route("/", providersRoutes({ indexer }))`. Errors are OpenAIErrors (the app's onError
 * renders them; this sub-app renders them too so it works on its own).
 */
import {
  createIndexerClient,
  IndexerBadRequestError,
  IndexerError,
  IndexerNotFoundError,
  type IndexerClient,
  type ProviderFilters,
} from "../indexer/index.ts";
import { OpenAIError, toOpenAIError } from "../openai/errors.ts";
import { Hono } from "hono";
import { type Address, isAddress } from "viem";
import { type ChainSource, readProviderFromChain } from "./chain.ts";
import { attestationView, providerView, type TokenBook, tokenBook } from "./format.ts";

export type ProvidersRoutesOptions = {
  /** The indexer client, or its URL (`INDEXER_URL`). */
  indexer: IndexerClient | string;
  /** USDC's address on this chain (from the deployments file), so prices can be shown as USDC. */
  usdc?: Address;
  /** Token symbols and decimals; default ETH plus USDC when `usdc` is given. */
  tokens?: TokenBook;
  /**
   * Read single providers from the registry when the indexer is unreachable (answers carry
   * `source: "chain"`; the attestation data itself is only in the indexer).
   */
  chain?: ChainSource;
};

export function providerNotFoundError(id: string): OpenAIError {
  return new OpenAIError(404, `Provider '${id}' not found.`, {
    type: "invalid_request_error",
    param: "id",
    code: "provider_not_found",
  });
}

/** Maps indexer failures onto the node's error shape. */
function indexerError(err: unknown): OpenAIError {
  if (err instanceof OpenAIError) return err;
  if (err instanceof IndexerBadRequestError) {
    return new OpenAIError(400, err.message, { type: "invalid_request_error", param: err.param, code: err.code });
  }
  if (err instanceof IndexerError) {
    return new OpenAIError(503, `The marketplace indexer is unavailable: ${err.message}`, {
      type: "service_unavailable_error",
      code: "indexer_unavailable",
      cause: err,
    });
  }
  return toOpenAIError(err);
}

/** "provider-0xABC…" or "0xabc…" → the address; undefined when it is neither. */
export function parseProviderId(raw: string): Address | undefined {
  const s = decodeURIComponent(raw)
    .trim()
    .replace(/^provider-/i, "");
  return isAddress(s, { strict: false }) ? (s.toLowerCase() as Address) : undefined;
}

export function providersRoutes(options: ProvidersRoutesOptions): Hono {
  const indexer = typeof options.indexer === "string" ? createIndexerClient(options.indexer) : options.indexer;
  const tokens = options.tokens ?? tokenBook({ ...(options.usdc === undefined ? {} : { usdc: options.usdc }) });
  const app = new Hono();

  async function getProvider(raw: string) {
    const address = parseProviderId(raw);
    if (address === undefined) {
      throw new OpenAIError(400, `'${raw}' is not a provider id: expected provider-0x… or a 0x address.`, {
        type: "invalid_request_error",
        param: "id",
        code: "invalid_provider_id",
      });
    }
    try {
      return { provider: await indexer.getProvider(address), source: "indexer" as const };
    } catch (err) {
      if (err instanceof IndexerNotFoundError) throw providerNotFoundError(raw);
      if (options.chain === undefined || !(err instanceof IndexerError) || !err.retryable) throw indexerError(err);
      let provider: Awaited<ReturnType<typeof readProviderFromChain>>;
      try {
        provider = await readProviderFromChain(options.chain, address);
      } catch {
        throw indexerError(err);
      }
      if (provider === undefined) throw providerNotFoundError(raw);
      return { provider, source: "chain" as const };
    }
  }

  app.get("/v1/providers", async (c) => {
    const q = c.req.query();
    const filters: ProviderFilters = {};
    if (q.model) filters.model = q.model;
    if (q.minGpus) filters.minGpus = Number(q.minGpus);
    if (q.minAvailableGpus) filters.minAvailableGpus = Number(q.minAvailableGpus);
    if (q.tee) filters.tee = q.tee;
    if (q.maxPrice) filters.maxPrice = q.maxPrice;
    if (q.token) filters.token = q.token;
    if (q.sort) filters.sort = q.sort as ProviderFilters["sort"];
    if (q.limit) filters.limit = Number(q.limit);
    if (q.offset) filters.offset = Number(q.offset);
    const active = (q.active ?? "true").toLowerCase();
    if (active !== "all") filters.active = active !== "false";
    for (const key of ["minGpus", "minAvailableGpus", "limit", "offset"] as const) {
      const v = filters[key];
      if (v !== undefined && !Number.isSafeInteger(v)) {
        throw new OpenAIError(400, `${key} must be an integer.`, {
          type: "invalid_request_error",
          param: key,
          code: "invalid_parameter",
        });
      }
    }
    try {
      const { providers } = await indexer.listProviders(filters);
      return c.json({ object: "list", data: providers.map((p) => providerView(p, tokens)) });
    } catch (err) {
      throw indexerError(err);
    }
  });

  app.get("/v1/providers/:id", async (c) => {
    const { provider, source } = await getProvider(c.req.param("id"));
    return c.json({ ...providerView(provider, tokens), source });
  });

  app.get("/v1/providers/:id/attestation", async (c) => {
    const { provider, source } = await getProvider(c.req.param("id"));
    return c.json({ ...attestationView(provider), source });
  });

  app.onError((err, c) => {
    const e = toOpenAIError(err);
    return c.json(e.toJSON(), e.status as 400);
  });

  return app;
}
