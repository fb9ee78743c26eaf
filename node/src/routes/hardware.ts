/**
 * GET /v1/hardware: this machine, as detected at first request.
 */
import { Hono } from "hono";
import type { HardwareInfo } from "../hardware/detect.ts";

export function hardwareRoute(getHardware: () => Promise<HardwareInfo>): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json(await getHardware()));
  return app;
}
