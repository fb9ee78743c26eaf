/**
 * The indexer on Postgres (DATABASE_URL) instead of PGlite: its own throw-away cluster (initdb + pg_ctl on a
 * free port), then register, session lifecycle and a reorg, read back through REST and GraphQL.
 * Needs Debian's postgresql package (CI installs it); skipped with a notice when the binaries are missing.
 */
import { createIndexerClient, type IndexerClient } from "@jeju/compute-sdk/indexer/index";
import { createClient } from "@ponder/client";
import { zeroAddress } from "viem";
import * as schema from "../../indexer/ponder.schema.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS, cast, rpc } from "../../tools/lib/chain.ts";
import { type Postgres, postgresAvailable, startPostgres } from "../../tools/lib/postgres.ts";
import { type Stack, startStack, within } from "./indexer-fixture.ts";

const available = postgresAvailable();
if (!available) console.warn("indexer-postgres: skipped, no Postgres binaries (apt-get install -y postgresql)");

describe.skipIf(!available)("indexer on Postgres", () => {
  let pg: Postgres;
  let stack: Stack;
  let indexer: IndexerClient;

  const send = (key: string, to: string, sig: string, ...args: string[]) =>
    cast(["send", "--rpc-url", stack.anvil.rpcUrl, "--private-key", key, to, sig, ...args]);

  beforeAll(async () => {
    pg = await startPostgres();
    stack = await startStack({ databaseUrl: pg.url });
    indexer = createIndexerClient(stack.indexer.url);
  });

  afterAll(async () => {
    await stack?.stop();
    await pg?.stop();
  });

  it("keeps SQL over HTTP off by default: anonymous callers cannot run their own queries", async () => {
    const client = createClient(`${stack.indexer.url}/sql`, { schema });
    await expect(client.db.select({ id: schema.provider.id }).from(schema.provider)).rejects.toThrow();
    const res = await fetch(`${stack.indexer.url}/sql/db?sql=${encodeURIComponent("select 1")}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("sql_disabled");
    expect(body.error.message).toContain("INDEXER_SQL=1");
    const graphql = await fetch(`${stack.indexer.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ providers { items { id } } }" }),
    });
    expect(graphql.status).toBe(200);
  });

  it("indexes providers and sessions, and rolls back a reorg", async () => {
    const { ComputeRegistry: registry, ComputeRental: rental } = stack.deployments;
    const provider = (await cast(["wallet", "address", ANVIL_KEYS[2]])).toLowerCase();
    await send(
      ANVIL_KEYS[2],
      registry,
      "register(string,string,uint256)",
      "https://pg.example.com:4007",
      "",
      "10000000000000000",
      "--value",
      "0.1ether",
    );
    await send(ANVIL_KEYS[2], registry, "setModel(string,uint256,uint256)", "mock-model", "0", "0");
    const p = (
      await within(2_000, async () => {
        const v = await indexer.getProvider(provider.toUpperCase().replace("0X", "0x"));
        return v.models.length === 1 ? v : undefined;
      })
    ).value;
    expect(p).toMatchObject({ id: provider, endpoint: "https://pg.example.com:4007", stake: 10n ** 17n, active: true });

    await send(
      ANVIL_KEYS[3],
      rental,
      "createSession(address,uint256,string,uint256,address)",
      provider,
      "2",
      "ssh-ed25519 AAAA pg",
      "0",
      zeroAddress,
      "--value",
      "0.02ether",
    );
    await send(ANVIL_KEYS[3], rental, "endSession(uint256)", "1");
    const s = (
      await within(3_000, async () => {
        const v = await indexer.getSession(1n);
        return v.status === "ended" ? v : undefined;
      })
    ).value;
    // Never activated: a full refund.
    expect(s).toMatchObject({ refund: 2n * 10n ** 16n, providerPayout: 0n, fee: 0n, usedSeconds: 0n });

    const snapshot = await rpc<string>(stack.anvil.rpcUrl, "evm_snapshot");
    await send(
      ANVIL_KEYS[3],
      rental,
      "createSession(address,uint256,string,uint256,address)",
      provider,
      "1",
      "ssh-ed25519 AAAA pg",
      "0",
      zeroAddress,
      "--value",
      "0.01ether",
    );
    await within(3_000, () => indexer.getSession(2n));
    await rpc(stack.anvil.rpcUrl, "evm_revert", [snapshot]);
    await rpc(stack.anvil.rpcUrl, "anvil_mine", ["0x3"]);
    await within(10_000, async () =>
      (await fetch(`${stack.indexer.url}/sessions/2`)).status === 404 ? true : undefined,
    );

    // The rollback replays the surviving blocks; wait for it to converge (under load, session 1 can briefly read as
    // pending while its blocks are re-applied).
    const converged = await within(10_000, async () => {
      const data = await indexer.graphql<{ sessions: { items: { id: string; status: string }[] } }>(
        '{ sessions(orderBy: "id") { items { id status } } }',
      );
      return data.sessions.items.length === 1 && data.sessions.items[0]?.status === "ended" ? data : undefined;
    }).catch(() => undefined);
    const data =
      converged?.value ??
      (await indexer.graphql<{ sessions: { items: { id: string; status: string }[] } }>(
        '{ sessions(orderBy: "id") { items { id status } } }',
      ));
    expect(data.sessions.items).toEqual([{ id: "1", status: "ended" }]);
    expect(await indexer.stats()).toMatchObject({ providers: 1, sessions: 1, activeSessions: 0, endedSessions: 1 });
  });
});
