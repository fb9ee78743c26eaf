/**
 * x402 facilitator HTTP API (spec shapes): `POST /verify` and `POST /settle` take
 * `{x402Version, paymentPayload, paymentRequirements}` (v2, or v1 with v1 payloads/requirements) and answer
 * `VerifyResponse` / `SettleResponse` with status 200 (a refused payment is `isValid: false` /
 * `success: false`, not an HTTP error); malformed JSON is a 400. `GET /supported` lists the kinds.
 */
import { Hono } from "hono";
import { badRequest } from "../errors.ts";
import type { Facilitator } from "./facilitator.ts";

export function facilitatorRoute(facilitator: Facilitator): Hono {
  const app = new Hono();
  const json = async (req: Request): Promise<unknown> => {
    try {
      return await req.json();
    } catch {
      throw badRequest("invalid_json", "Request body is not valid JSON.");
    }
  };
  app.get("/supported", (c) => c.json(facilitator.supported()));
  app.post("/verify", async (c) => c.json(await facilitator.verify(await json(c.req.raw))));
  app.post("/settle", async (c) => c.json(await facilitator.settle(await json(c.req.raw))));
  return app;
}
