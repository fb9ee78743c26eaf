/**
 * GET /health
 */
import { Hono } from "hono";
import type { ModelRegistry } from "../backends/registry.ts";
import type { InflightTracker } from "../http/inflight.ts";

export type HealthOptions = {
  registry: ModelRegistry;
  inflight: InflightTracker;
  chainEnabled: boolean;
  version: string;
};

export function healthRoute({ registry, inflight, chainEnabled, version }: HealthOptions): Hono {
  const app = new Hono();
  const startedAt = Date.now();

  app.get("/", async (c) => {
    const models = await registry.list();
    const unreachable = new Set(registry.unreachable);
    return c.json({
      status: "ok",
      version,
      uptime_s: Math.floor((Date.now() - startedAt) / 1000),
      models: models.map((m) => m.id),
      backends: registry.backends.map((b) => ({ name: b.name, reachable: !unreachable.has(b.name) })),
      inflight: inflight.size,
      marketplace: chainEnabled,
    });
  });

  return app;
}
