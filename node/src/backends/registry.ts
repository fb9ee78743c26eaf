/**
 * Routes each model id to the backend that serves it. Backends are asked for their models at start and
 * again (at most every `refreshIntervalMs`) when a request names a model nobody claimed yet, so a model
 * pulled into Ollama after start is found without a restart. The first backend in `MODEL_BACKEND` order
 * wins a name two backends share.
 */
import { backendUnavailableError, modelNotFoundError, type Model } from "@jeju/compute-sdk/openai/index";
import type { Logger } from "../logger.ts";
import type { Backend } from "./types.ts";

export type ModelRoute = {
  /** The id clients used (or the alias they used resolves to this entry). */
  id: string;
  /** The id the backend knows the model by. */
  backendModel: string;
  backend: Backend;
  created: number;
  ownedBy: string;
};

export type ModelRegistryOptions = {
  /** `alias → model id` from MODEL_ALIASES. */
  aliases?: Record<string, string>;
  /** `name → model id` used only when nothing else answers to the name; not listed (FALLBACK_MODELS). */
  fallbackAliases?: Record<string, string>;
  refreshIntervalMs?: number;
  log: Logger;
};

export class ModelRegistry {
  readonly backends: readonly Backend[];
  readonly #aliases: Record<string, string>;
  readonly #fallbackAliases: Record<string, string>;
  readonly #refreshIntervalMs: number;
  readonly #log: Logger;
  /** Listed models, in order (what /v1/models shows). */
  #listed: ModelRoute[] = [];
  /** Every name that resolves: ids, backend aliases, configured aliases. */
  #routes = new Map<string, ModelRoute>();
  /** Backends whose last listing failed. */
  #unreachable = new Map<string, unknown>();
  #lastRefresh = 0;
  #pending: Promise<void> | undefined;

  constructor(backends: readonly Backend[], options: ModelRegistryOptions) {
    this.backends = backends;
    this.#aliases = options.aliases ?? {};
    this.#fallbackAliases = options.fallbackAliases ?? {};
    this.#refreshIntervalMs = options.refreshIntervalMs ?? 5_000;
    this.#log = options.log;
  }

  /** Ask every backend for its models (concurrent refreshes share one round). */
  refresh(): Promise<void> {
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #refresh(): Promise<void> {
    const results = await Promise.allSettled(this.backends.map((b) => b.listModels(AbortSignal.timeout(5_000))));
    const listed: ModelRoute[] = [];
    const routes = new Map<string, ModelRoute>();
    const unreachable = new Map<string, unknown>();
    const aliasRoutes: Array<[string, ModelRoute]> = [];
    results.forEach((result, i) => {
      const backend = this.backends[i];
      if (backend === undefined) return;
      if (result.status === "rejected") {
        unreachable.set(backend.name, result.reason);
        if (!this.#unreachable.has(backend.name)) {
          this.#log.warn({ backend: backend.name, err: errorMessage(result.reason) }, "backend unreachable");
        }
        return;
      }
      for (const m of result.value) {
        if (routes.has(m.id)) continue;
        const route: ModelRoute = { id: m.id, backendModel: m.id, backend, created: m.created, ownedBy: m.ownedBy };
        routes.set(m.id, route);
        listed.push(route);
        for (const alias of m.aliases ?? []) aliasRoutes.push([alias, route]);
      }
    });
    for (const [alias, route] of aliasRoutes) if (!routes.has(alias)) routes.set(alias, route);
    for (const [alias, target] of Object.entries(this.#aliases)) {
      const route = routes.get(target);
      if (route === undefined) {
        this.#log.warn({ alias, target }, "MODEL_ALIASES: target model is not served");
        continue;
      }
      const aliased: ModelRoute = { ...route, id: alias };
      routes.set(alias, aliased);
      listed.push(aliased);
    }
    for (const [name, target] of Object.entries(this.#fallbackAliases)) {
      const route = routes.get(target);
      if (route !== undefined && !routes.has(name)) routes.set(name, { ...route, id: name });
    }
    for (const name of this.#unreachable.keys()) {
      if (!unreachable.has(name)) this.#log.info({ backend: name }, "backend reachable again");
    }
    this.#listed = listed;
    this.#routes = routes;
    this.#unreachable = unreachable;
    this.#lastRefresh = Date.now();
  }

  /** The route a name has right now (no refresh): for synchronous lookups such as pricing. */
  peek(model: string): ModelRoute | undefined {
    return this.#routes.get(model);
  }

  /** The route for a model; refreshes once on a miss. Throws 404 `model_not_found`, or 503 if a backend that might serve it is down. */
  async resolve(model: string): Promise<ModelRoute> {
    const hit = this.#routes.get(model);
    if (hit !== undefined) return hit;
    if (Date.now() - this.#lastRefresh >= this.#refreshIntervalMs || this.#pending !== undefined) {
      await this.refresh();
      const found = this.#routes.get(model);
      if (found !== undefined) return found;
    }
    const [down, reason] = this.#unreachable.entries().next().value ?? [];
    if (down !== undefined) throw backendUnavailableError(down, reason);
    throw modelNotFoundError(model);
  }

  /** Models for `/v1/models` (refreshed when stale). */
  async list(): Promise<Model[]> {
    if (Date.now() - this.#lastRefresh >= this.#refreshIntervalMs) await this.refresh();
    return this.#listed.map((r) => ({ id: r.id, object: "model", created: r.created, owned_by: r.ownedBy }));
  }

  /** Names of backends whose last listing failed. */
  get unreachable(): string[] {
    return [...this.#unreachable.keys()];
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.backends.map((b) => b.close?.()));
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}
