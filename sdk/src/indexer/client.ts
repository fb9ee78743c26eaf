/**
 * Typed client of the indexer's HTTP API: REST (providers, sessions, stats) and GraphQL.
 *
 *   const indexer = createIndexerClient("http://127.0.0.1:42069");
 *   const { providers } = await indexer.listProviders({ model: "llama2", sort: "price_asc" });
 */
import {
  IndexerBadRequestError,
  IndexerError,
  IndexerGraphQLError,
  IndexerHttpError,
  IndexerNotFoundError,
  IndexerResponseError,
  IndexerUnavailableError,
} from "./errors.ts";
import type {
  ErrorJson,
  Provider,
  ProviderFilters,
  ProviderJson,
  ProviderListJson,
  SessionFilters,
  Session,
  SessionJson,
  SessionListJson,
  Stats,
  StatsJson,
} from "./types.ts";

export type IndexerClientOptions = {
  /** Per-request timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
};

export type IndexerClient = {
  readonly url: string;
  listProviders(filters?: ProviderFilters): Promise<{ providers: Provider[]; limit: number; offset: number }>;
  /** Throws {@link IndexerNotFoundError} (`provider_not_found`) for an unknown provider. */
  getProvider(id: string): Promise<Provider>;
  /** Throws {@link IndexerNotFoundError} (`session_not_found`) for an unknown session. */
  getSession(id: bigint | number | string): Promise<Session>;
  listSessions(filters?: SessionFilters): Promise<{ sessions: Session[]; limit: number; offset: number }>;
  stats(): Promise<Stats>;
  graphql<T = unknown>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Whether the indexer has caught up with the chain (`/ready` answers 200). */
  ready(): Promise<boolean>;
};

const big = (v: string): bigint => BigInt(v);
const bigOrNull = (v: string | null): bigint | null => (v === null ? null : BigInt(v));

export function parseProvider(p: ProviderJson): Provider {
  return {
    ...p,
    stake: big(p.stake),
    pendingUnstake: big(p.pendingUnstake),
    unstakeUnlockTime: big(p.unstakeUnlockTime),
    pricePerHour: big(p.pricePerHour),
    lastHeartbeat: big(p.lastHeartbeat),
    totalSlashed: big(p.totalSlashed),
    registeredAt: big(p.registeredAt),
    registeredBlock: big(p.registeredBlock),
    updatedAt: big(p.updatedAt),
    models: p.models.map((m) => ({
      ...m,
      inputPricePerToken: big(m.inputPricePerToken),
      outputPricePerToken: big(m.outputPricePerToken),
    })),
    tokenPrices: p.tokenPrices.map((t) => ({ ...t, pricePerHour: big(t.pricePerHour) })),
  };
}

export function parseSession(s: SessionJson): Session {
  return {
    ...s,
    id: big(s.id),
    ratePerHour: big(s.ratePerHour),
    durationHours: big(s.durationHours),
    prepaid: big(s.prepaid),
    createdAt: big(s.createdAt),
    createdBlock: big(s.createdBlock),
    startedAt: bigOrNull(s.startedAt),
    expiresAt: bigOrNull(s.expiresAt),
    endedAt: bigOrNull(s.endedAt),
    usedSeconds: bigOrNull(s.usedSeconds),
    refund: bigOrNull(s.refund),
    providerPayout: bigOrNull(s.providerPayout),
    fee: bigOrNull(s.fee),
    slashed: bigOrNull(s.slashed),
    updatedAt: big(s.updatedAt),
  };
}

export function parseStats(s: StatsJson): Stats {
  return {
    ...s,
    totalStaked: big(s.totalStaked),
    totalSlashed: big(s.totalSlashed),
    updatedAt: bigOrNull(s.updatedAt),
    tokens: s.tokens.map((t) => ({
      ...t,
      volume: big(t.volume),
      refunds: big(t.refunds),
      providerPayouts: big(t.providerPayouts),
      fees: big(t.fees),
      withdrawn: big(t.withdrawn),
    })),
  };
}

function query(params: Record<string, string | number | bigint | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

export function createIndexerClient(url: string, options: IndexerClientOptions = {}): IndexerClient {
  const base = url.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;

  async function request<T>(path: string, init?: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new IndexerUnavailableError(base, err);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      if (!res.ok)
        throw new IndexerHttpError(`indexer answered ${res.status}: ${text.slice(0, 200)}`, res.status, "http_error");
      throw new IndexerResponseError(`indexer answered ${path} with non-JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const gqlErrors = (body as { errors?: { message: string }[] } | undefined)?.errors;
      if (Array.isArray(gqlErrors) && gqlErrors.length > 0) throw new IndexerGraphQLError(gqlErrors);
      const err = (body as Partial<ErrorJson> | undefined)?.error;
      const message = err?.message ?? `indexer answered ${res.status} for ${path}`;
      const code = err?.code ?? "http_error";
      const param = err?.param ?? null;
      if (res.status === 404) throw new IndexerNotFoundError(message, 404, code, param);
      if (res.status === 400) throw new IndexerBadRequestError(message, 400, code, param);
      throw new IndexerHttpError(message, res.status, code, param);
    }
    return body as T;
  }

  return {
    url: base,
    async listProviders(f = {}) {
      const body = await request<ProviderListJson>(
        `/providers${query({
          model: f.model,
          minGpus: f.minGpus,
          minAvailableGpus: f.minAvailableGpus,
          tee: f.tee,
          maxPrice: f.maxPrice,
          token: f.token,
          active: f.active,
          sort: f.sort,
          limit: f.limit,
          offset: f.offset,
        })}`,
      );
      return { ...body, providers: body.providers.map(parseProvider) };
    },
    async getProvider(id) {
      return parseProvider(await request<ProviderJson>(`/providers/${encodeURIComponent(id)}`));
    },
    async getSession(id) {
      return parseSession(await request<SessionJson>(`/sessions/${encodeURIComponent(String(id))}`));
    },
    async listSessions(f = {}) {
      const body = await request<SessionListJson>(
        `/sessions${query({ renter: f.renter, provider: f.provider, status: f.status, limit: f.limit, offset: f.offset })}`,
      );
      return { ...body, sessions: body.sessions.map(parseSession) };
    },
    async stats() {
      return parseStats(await request<StatsJson>("/stats"));
    },
    async graphql<T>(q: string, variables?: Record<string, unknown>) {
      const body = await request<{ data?: T; errors?: { message: string }[] }>("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query: q, variables }),
      });
      if (body.errors !== undefined && body.errors.length > 0) throw new IndexerGraphQLError(body.errors);
      if (body.data === undefined) throw new IndexerResponseError("GraphQL answer without data");
      return body.data;
    },
    async ready() {
      try {
        const res = await doFetch(`${base}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
        await res.body?.cancel();
        return res.ok;
      } catch (err) {
        if (err instanceof IndexerError) throw err;
        return false;
      }
    },
  };
}
