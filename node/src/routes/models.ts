/**
 * GET /v1/models and GET /v1/models/:model
 */
import { type ModelList, modelNotFoundError } from "@jeju/compute-sdk/openai/index";
import { Hono } from "hono";
import type { ModelRegistry } from "../backends/registry.ts";

export function modelsRoute(registry: ModelRegistry): Hono {
  const app = new Hono();

  app.get("/", async (c) => {
    const list: ModelList = { object: "list", data: await registry.list() };
    return c.json(list);
  });

  app.get("/:model{.+}", async (c) => {
    const id = c.req.param("model");
    const model = (await registry.list()).find((m) => m.id === id);
    if (model === undefined) throw modelNotFoundError(id);
    return c.json(model);
  });

  return app;
}
