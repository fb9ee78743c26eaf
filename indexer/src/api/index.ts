/**
 * The indexer's HTTP API (Ponder serves it on PORT, default 42069, next to its own /health, /ready, /status):
 * GraphQL at /graphql and /, SQL over HTTP at /sql (@ponder/client; only with INDEXER_SQL=1), and REST:
 *   GET /providers?model=&minGpus=&minAvailableGpus=&tee=&maxPrice=&token=&active=&sort=price_asc|price_desc
 *   GET /providers/:id     GET /sessions/:id     GET /sessions?renter=&provider=&status=     GET /stats
 * Addresses are accepted in any case; JSON carries bigints as decimal strings; errors use the OpenAI shape
 * `{"error":{"message","type","param","code"}}`.
 */
import { db } from "ponder:api";
import schema from "ponder:schema";
import type { ErrorJson } from "@jeju/compute-sdk/indexer/types";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { and, asc, client, desc, eq, exists, graphql, gte, inArray, isNotNull, lte, ne, sql } from "ponder";
import { zeroAddress } from "viem";
import { readDeployments } from "../../config/deployments.ts";
import { BadRequest, normalizeAddress, parseProviderQuery, parseSessionId, parseSessionQuery } from "./params.ts";
import { providerJson, sessionJson, statsJson } from "./serialize.ts";

const deployments = readDeployments();
const usdc = deployments.USDC === zeroAddress ? undefined : (deployments.USDC.toLowerCase() as `0x${string}`);

const { provider, providerModel, providerTokenPrice, session, stats, tokenStats } = schema;

function errorBody(message: string, code: string, type: string, param: string | null = null): ErrorJson {
  return { error: { message, type, param, code } };
}

class NotFound extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly param: string,
  ) {
    super(message);
  }
}

async function loadProviders(rows: (typeof provider.$inferSelect)[]) {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [models, prices] = await Promise.all([
    db.select().from(providerModel).where(inArray(providerModel.provider, ids)),
    db.select().from(providerTokenPrice).where(inArray(providerTokenPrice.provider, ids)),
  ]);
  return rows.map((p) =>
    providerJson(
      p,
      models.filter((m) => m.provider === p.id),
      prices.filter((t) => t.provider === p.id),
    ),
  );
}

const app = new Hono();

// SQL over HTTP runs any read query a caller writes (one cartesian self-join stalls the API for minutes), so it is
// off unless the operator turns it on for a private deployment; GraphQL and REST have their own limits.
const sqlEnabled = ["1", "true", "on"].includes((process.env.INDEXER_SQL ?? "").toLowerCase());
if (sqlEnabled) app.use("/sql/*", client({ db, schema }));
else {
  app.all("/sql/*", (c) =>
    c.json(
      errorBody(
        "SQL over HTTP is off on this indexer: it runs any query a caller writes. Use GraphQL (/graphql) or REST " +
          "(/providers, /sessions, /stats), or set INDEXER_SQL=1 on a deployment only you can reach.",
        "sql_disabled",
        "invalid_request_error",
      ),
      404,
    ),
  );
}
app.use("/graphql", graphql({ db, schema }));
app.use("/", graphql({ db, schema }));

app.get("/providers", async (c) => {
  const q = parseProviderQuery(c.req.query(), usdc);
  const priced = q.maxPrice !== undefined || q.sort !== undefined;
  const where = [];
  if (q.active !== undefined) where.push(eq(provider.active, q.active));
  if (q.minGpus !== undefined) where.push(gte(provider.gpuCount, q.minGpus));
  if (q.minAvailableGpus !== undefined) {
    where.push(sql`${provider.gpuCount} - ${provider.gpusInUse} >= ${q.minAvailableGpus}`);
  }
  if (q.tee === "any") where.push(ne(provider.teeType, "None"));
  else if (q.tee !== undefined) where.push(eq(provider.teeType, q.tee));
  if (q.model !== undefined) {
    where.push(
      exists(
        db
          .select({ one: sql`1` })
          .from(providerModel)
          .where(and(eq(providerModel.provider, provider.id), eq(providerModel.name, q.model))),
      ),
    );
  }
  if (priced) where.push(isNotNull(providerTokenPrice.pricePerHour));
  if (q.maxPrice !== undefined) where.push(lte(providerTokenPrice.pricePerHour, q.maxPrice));
  const order =
    q.sort === "price_asc"
      ? [asc(providerTokenPrice.pricePerHour), asc(provider.id)]
      : q.sort === "price_desc"
        ? [desc(providerTokenPrice.pricePerHour), asc(provider.id)]
        : [asc(provider.registeredBlock), asc(provider.id)];
  const rows = await db
    .select({ provider })
    .from(provider)
    .leftJoin(
      providerTokenPrice,
      and(eq(providerTokenPrice.provider, provider.id), eq(providerTokenPrice.token, q.token)),
    )
    .where(where.length === 0 ? undefined : and(...where))
    .orderBy(...order)
    .limit(q.limit)
    .offset(q.offset);
  return c.json({ providers: await loadProviders(rows.map((r) => r.provider)), limit: q.limit, offset: q.offset });
});

app.get("/providers/:id", async (c) => {
  const raw = c.req.param("id");
  const id = normalizeAddress(raw);
  if (id === undefined)
    throw new BadRequest(`provider id must be an address, got "${raw}"`, "id", "invalid_provider_id");
  const rows = await db.select().from(provider).where(eq(provider.id, id)).limit(1);
  const [p] = await loadProviders(rows);
  if (p === undefined) throw new NotFound(`Provider ${raw} not found.`, "provider_not_found", "id");
  return c.json(p);
});

app.get("/sessions", async (c) => {
  const q = parseSessionQuery(c.req.query());
  const where = [];
  if (q.renter !== undefined) where.push(eq(session.renter, q.renter));
  if (q.provider !== undefined) where.push(eq(session.provider, q.provider));
  if (q.status !== undefined) where.push(eq(session.status, q.status));
  const rows = await db
    .select()
    .from(session)
    .where(where.length === 0 ? undefined : and(...where))
    .orderBy(desc(session.id))
    .limit(q.limit)
    .offset(q.offset);
  return c.json({ sessions: rows.map(sessionJson), limit: q.limit, offset: q.offset });
});

app.get("/sessions/:id", async (c) => {
  const raw = c.req.param("id");
  const id = parseSessionId(raw);
  if (id === undefined) {
    throw new BadRequest(`session id must be a positive integer, got "${raw}"`, "id", "invalid_session_id");
  }
  const [row] = await db.select().from(session).where(eq(session.id, id)).limit(1);
  if (row === undefined) throw new NotFound(`Session ${raw} not found.`, "session_not_found", "id");
  return c.json(sessionJson(row));
});

app.get("/stats", async (c) => {
  const [[row], tokens] = await Promise.all([
    db.select().from(stats).where(eq(stats.id, "global")).limit(1),
    db.select().from(tokenStats),
  ]);
  return c.json(statsJson(row, tokens));
});

app.onError((err, c) => {
  if (err instanceof BadRequest) {
    return c.json(errorBody(err.message, err.code, "invalid_request_error", err.param), 400);
  }
  if (err instanceof NotFound) {
    return c.json(errorBody(err.message, err.code, "invalid_request_error", err.param), 404);
  }
  const raw = (err as unknown as { status?: unknown }).status;
  const status = (typeof raw === "number" && raw >= 400 && raw < 600 ? raw : 500) as ContentfulStatusCode;
  const server = status >= 500;
  return c.json(
    errorBody(
      server ? "Internal indexer error." : err.message,
      server ? "internal_error" : "request_failed",
      server ? "server_error" : "invalid_request_error",
    ),
    status,
  );
});

export default app;
