/**
 * Indexer end to end on a real anvil: the docs' `cast send … register(string,string,uint256)` line, then the
 * provider through GraphQL, REST and the node's /v1/providers within 2 s; a session created, activated and
 * ended with cast, its amounts equal to the contract's to the wei; filters; SQL over HTTP; a reorg.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { createClient } from "@ponder/client";
import { computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { createIndexerClient, type IndexerClient } from "@jeju/compute-sdk/indexer/index";
import { createPublicClient, decodeEventLog, getAddress, http, keccak256, toBytes, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as schema from "../../indexer/ponder.schema.ts";
import { marketplaceOptions, providersRoutes } from "@jeju/compute-sdk/marketplace/index";
import { ANVIL_KEYS, cast, REPO_ROOT, rpc } from "../../tools/lib/chain.ts";
import { type Stack, startStack, within } from "./indexer-fixture.ts";

const PROVIDER_KEY = ANVIL_KEYS[2];
const RENTER_KEY = ANVIL_KEYS[3];
const OTHER_PROVIDER_KEY = ANVIL_KEYS[4];
const ATTESTATION_DATA = JSON.stringify({
  tee: "IntelTDX",
  quote: "0x0400",
  mrenclave: `0x${"ab".repeat(32)}`,
  mrsigner: `0x${"cd".repeat(32)}`,
});
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1k renter@host";

let stack: Stack;
let indexer: IndexerClient;
let node: ReturnType<typeof providersRoutes>;
let provider: `0x${string}`;
let other: `0x${string}`;

/** Runs a command line through bash with node_modules/.bin on PATH, like a user following the docs. */
function bash(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      ["-c", script],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env, PATH: `${path.join(REPO_ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
        encoding: "utf8",
        timeout: 60_000,
      },
      (err, stdout, stderr) => (err ? reject(new Error(`${script}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

const send = (key: string, to: string, sig: string, ...args: string[]) =>
  cast(["send", "--json", "--rpc-url", stack.anvil.rpcUrl, "--private-key", key, to, sig, ...args]).then(
    (out) =>
      JSON.parse(out) as { status: string; logs: { address: string; topics: `0x${string}`[]; data: `0x${string}` }[] },
  );

type Json = Record<string, any>;

async function gql(query: string): Promise<Json> {
  return indexer.graphql<Json>(query);
}

beforeAll(async () => {
  stack = await startStack({ env: { INDEXER_SQL: "1" } });
  indexer = createIndexerClient(stack.indexer.url);
  node = providersRoutes(
    marketplaceOptions({
      indexerUrl: stack.indexer.url,
      rpcUrl: stack.anvil.rpcUrl,
      deploymentsFile: stack.deploymentsFile,
    }),
  );
  provider = (await cast(["wallet", "address", PROVIDER_KEY])).toLowerCase() as `0x${string}`;
  other = (await cast(["wallet", "address", OTHER_PROVIDER_KEY])).toLowerCase() as `0x${string}`;
});

afterAll(async () => {
  await stack?.stop();
});

describe("indexer e2e", () => {
  it("finds a provider registered with the docs' cast line through GraphQL, REST and /v1/providers within 2 s", async () => {
    await bash(
      `cast send $COMPUTE_REGISTRY "register(string,string,uint256)" "https://mynode.example.com:4007" "$ATTESTATION_DATA" $(cast --to-wei 0.01) --value 0.1ether --rpc-url $RPC_URL --private-key $PRIVATE_KEY`,
      {
        COMPUTE_REGISTRY: stack.deployments.ComputeRegistry,
        ATTESTATION_DATA,
        RPC_URL: stack.anvil.rpcUrl,
        PRIVATE_KEY: PROVIDER_KEY,
      },
    );
    const checksummed = getAddress(provider);
    const [viaGraphql, viaRest, viaNode] = await Promise.all([
      within(2_000, async () => {
        const data = await gql(
          `{ provider(id: "${provider}") { id endpoint stake pricePerHour attestation attestationHash active } }`,
        );
        return data.provider ?? undefined;
      }),
      // Upper-case hex: addresses are accepted in any case.
      within(2_000, async () => {
        const p = await indexer.getProvider(`0x${provider.slice(2).toUpperCase()}`);
        // PGlite shares one connection between indexing and the API, so a read can land between the tables of
        // one block's flush; wait for the whole block (Postgres reads only committed blocks).
        return p.tokenPrices.length > 0 ? p : undefined;
      }),
      within(2_000, async () => {
        const body = (await (await node.request("/v1/providers")).json()) as { data: Json[] };
        return body.data.find((p) => p.id === `provider-${checksummed}` && p.pricing.hourlyRate !== null);
      }),
    ]);
    expect(viaGraphql.value).toEqual({
      id: provider,
      endpoint: "https://mynode.example.com:4007",
      stake: "100000000000000000",
      pricePerHour: "10000000000000000",
      attestation: ATTESTATION_DATA,
      attestationHash: keccak256(toBytes(ATTESTATION_DATA)),
      active: true,
    });
    expect(viaRest.value).toMatchObject({ id: provider, address: checksummed, stake: 10n ** 17n, active: true });
    expect(viaRest.value.tokenPrices).toEqual([{ token: zeroAddress, pricePerHour: 10n ** 16n }]);
    expect(viaNode.value).toMatchObject({
      address: checksummed,
      endpoint: "https://mynode.example.com:4007",
      status: "active",
      pricing: { hourlyRate: { symbol: "ETH", decimals: 18, amount: "10000000000000000", formatted: "0.01" } },
    });
    for (const r of [viaGraphql, viaRest, viaNode]) expect(r.ms).toBeLessThan(2_000);

    const att = (await (await node.request(`/v1/providers/provider-${provider}/attestation`)).json()) as Json;
    expect(att.report.data).toBe(ATTESTATION_DATA);
    expect(att.measurements).toMatchObject({ mrenclave: `0x${"ab".repeat(32)}`, mrsigner: `0x${"cd".repeat(32)}` });
    expect(att.verification.hashMatches).toBe(true);

    const missing = await node.request("/v1/providers/provider-0x000000000000000000000000000000000000dEaD");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Json).error.code).toBe("provider_not_found");
    const restMissing = await fetch(`${stack.indexer.url}/providers/0x000000000000000000000000000000000000dead`);
    expect(restMissing.status).toBe(404);
    expect(((await restMissing.json()) as Json).error.code).toBe("provider_not_found");
  });

  it("indexes hardware, models and token prices, and filters and sorts providers", async () => {
    const { ComputeRegistry: registry, USDC } = stack.deployments;
    await send(
      PROVIDER_KEY,
      registry,
      "setHardware((string,uint16,uint32,uint32,uint32,uint32,uint8))",
      '("NVIDIA H100 80GB HBM3",4,80,32,256,2000,2)',
    );
    await send(PROVIDER_KEY, registry, "setModel(string,uint256,uint256)", "llama2", "1", "2");
    await send(PROVIDER_KEY, registry, "setTokenPrice(address,uint256)", USDC, "2500000");
    await send(
      OTHER_PROVIDER_KEY,
      registry,
      "register(string,string,uint256)",
      "https://other.example.com:4007",
      "",
      "20000000000000000",
      "--value",
      "0.2ether",
    );
    await send(OTHER_PROVIDER_KEY, registry, "setModel(string,uint256,uint256)", "llama3", "3", "4");

    await within(3_000, async () => {
      const p = await indexer.getProvider(other);
      return p.models.length === 1 ? p : undefined;
    });
    const a = await indexer.getProvider(provider);
    expect(a.hardware).toEqual({
      gpuModel: "NVIDIA H100 80GB HBM3",
      gpuCount: 4,
      vramGb: 80,
      cpuCores: 32,
      memoryGb: 256,
      storageGb: 2000,
      teeType: "IntelTDX",
    });
    expect(a.models).toEqual([{ name: "llama2", inputPricePerToken: 1n, outputPricePerToken: 2n }]);

    const ids = async (filters: Parameters<IndexerClient["listProviders"]>[0]) =>
      (await indexer.listProviders(filters)).providers.map((p) => p.id);
    expect(await ids({})).toEqual([provider, other]);
    expect(await ids({ model: "llama3" })).toEqual([other]);
    expect(await ids({ tee: "tdx" })).toEqual([provider]);
    expect(await ids({ minGpus: 4 })).toEqual([provider]);
    expect(await ids({ sort: "price_desc" })).toEqual([other, provider]);
    expect(await ids({ maxPrice: 10n ** 16n })).toEqual([provider]);
    expect(await ids({ token: "usdc", sort: "price_asc" })).toEqual([provider]);
    expect(await ids({ token: USDC.toUpperCase().replace("0X", "0x"), maxPrice: 2_499_999n })).toEqual([]);

    await send(OTHER_PROVIDER_KEY, registry, "deactivate()");
    await within(3_000, async () => ((await ids({ active: true })).length === 1 ? true : undefined));
    expect(await ids({ active: false })).toEqual([other]);
    const body = (await (await node.request("/v1/providers?model=llama2")).json()) as { data: Json[] };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({
      hardware: {
        gpus: { model: "NVIDIA H100 80GB HBM3", count: 4, vramGb: 80 },
        cpu: { cores: 32 },
        memory: { gb: 256 },
        storage: { gb: 2000 },
      },
      pricing: { hourlyRate: { symbol: "USDC", decimals: 6, amount: "2500000", formatted: "2.5" } },
      availability: { gpusTotal: 4, gpusAvailable: 4, activeRentals: 0 },
      tee: { type: "IntelTDX", enabled: true, verified: true },
    });
    const stats = await indexer.stats();
    expect(stats).toMatchObject({ providers: 2, activeProviders: 1, totalStaked: 3n * 10n ** 17n });
  });

  it("falls back to the registry for one provider when the indexer is unreachable", async () => {
    const client = createPublicClient({ transport: http(stack.anvil.rpcUrl) });
    const offline = providersRoutes({
      indexer: createIndexerClient("http://127.0.0.1:9", { timeoutMs: 1_000 }),
      usdc: stack.deployments.USDC,
      chain: { client, registry: stack.deployments.ComputeRegistry, tokens: [stack.deployments.USDC] },
    });
    const res = await offline.request(`/v1/providers/provider-${provider}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      source: "chain",
      address: getAddress(provider),
      hardware: { gpus: { model: "NVIDIA H100 80GB HBM3", count: 4 } },
      pricing: { hourlyRate: { symbol: "USDC", amount: "2500000" } },
      models: ["llama2"],
    });
    expect((await offline.request("/v1/providers/0x000000000000000000000000000000000000dEaD")).status).toBe(404);
    const list = await offline.request("/v1/providers");
    expect(list.status).toBe(503);
    expect(((await list.json()) as Json).error.code).toBe("indexer_unavailable");
  });

  it("creates, activates and ends a session with cast; status, refund and payout match the contract to the wei", async () => {
    const { ComputeRental: rental } = stack.deployments;
    const renter = (await cast(["wallet", "address", RENTER_KEY])).toLowerCase();
    // 2 GPUs × 3 h × 0.01 ETH per GPU-hour.
    await send(
      RENTER_KEY,
      rental,
      "createSession(address,uint256,string,uint256,address)",
      provider,
      "3",
      SSH_KEY,
      "2",
      zeroAddress,
      "--value",
      "0.06ether",
    );
    const pending = await within(3_000, async () => indexer.getSession(1n));
    expect(pending.value).toMatchObject({
      status: "pending",
      renter,
      provider,
      token: zeroAddress,
      gpuCount: 2,
      durationHours: 3n,
      prepaid: 6n * 10n ** 16n,
      sshPublicKey: SSH_KEY,
    });
    expect(await indexer.getProvider(provider)).toMatchObject({ activeRentals: 1, gpusInUse: 2, gpusAvailable: 2 });

    const connection = JSON.stringify({ host: "127.0.0.1", port: 2222, username: "session-1" });
    await send(PROVIDER_KEY, rental, "activateSession(uint256,string)", "1", connection);
    await rpc(stack.anvil.rpcUrl, "evm_increaseTime", [1234]);
    const receipt = await send(RENTER_KEY, rental, "endSession(uint256)", "1");
    expect(receipt.status).toBe("0x1");
    const ended = receipt.logs
      .filter((l) => l.address.toLowerCase() === rental.toLowerCase())
      .map((l) => {
        try {
          return decodeEventLog({ abi: computeRentalAbi, topics: l.topics as [`0x${string}`], data: l.data });
        } catch {
          return undefined;
        }
      })
      .find((e) => e?.eventName === "SessionEnded");
    if (ended?.eventName !== "SessionEnded" || ended.args === undefined)
      throw new Error("no SessionEnded in the receipt");
    const ev = ended.args;
    const chain = await createPublicClient({ transport: http(stack.anvil.rpcUrl) }).readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [1n],
    });

    const s = (
      await within(3_000, async () => {
        const v = await indexer.getSession(1n);
        return v.status === "ended" ? v : undefined;
      })
    ).value;
    expect(s.refund).toBe(ev.refund);
    expect(s.providerPayout).toBe(ev.providerPayout);
    expect(s.fee).toBe(ev.fee);
    expect(s.usedSeconds).toBe(ev.usedSeconds);
    expect(s.endedBy).toBe(renter);
    expect(s.refund! + s.providerPayout! + s.fee!).toBe(chain.prepaid);
    expect(s.prepaid).toBe(chain.prepaid);
    expect(s.ratePerHour).toBe(chain.ratePerHour);
    expect(s.startedAt).toBe(BigInt(chain.startedAt));
    expect(s.expiresAt).toBe(BigInt(chain.expiresAt));
    expect(s.endedAt).toBe(BigInt(chain.endedAt));
    expect(chain.status).toBe(3); // Ended
    expect(s.connection).toBe(connection);
    expect(s.usedSeconds).toBeGreaterThanOrEqual(1234n);
    expect(s.providerPayout).toBeGreaterThan(0n);

    expect(await indexer.getProvider(provider)).toMatchObject({ activeRentals: 0, gpusInUse: 0, totalSessions: 1 });
    const listed = await indexer.listSessions({ renter: renter.toUpperCase().replace("0X", "0x") });
    expect(listed.sessions.map((x) => x.id)).toEqual([1n]);
    const data = await gql(`{ session(id: "1") { status refund providerPayout fee } }`);
    expect(data.session).toEqual({
      status: "ended",
      refund: ev.refund.toString(),
      providerPayout: ev.providerPayout.toString(),
      fee: ev.fee.toString(),
    });
    const stats = await indexer.stats();
    expect(stats).toMatchObject({ sessions: 1, activeSessions: 0, endedSessions: 1 });
    expect(stats.tokens).toEqual([
      {
        token: zeroAddress,
        sessions: 1,
        volume: chain.prepaid,
        refunds: ev.refund,
        providerPayouts: ev.providerPayout,
        fees: ev.fee,
        withdrawn: 0n,
      },
    ]);
    const notFound = await fetch(`${stack.indexer.url}/sessions/999`);
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as Json).error.code).toBe("session_not_found");
  });

  it("serves SQL over HTTP to @ponder/client when the operator enables it (INDEXER_SQL=1)", async () => {
    const client = createClient(`${stack.indexer.url}/sql`, { schema });
    const rows = await client.db.select({ id: schema.provider.id, stake: schema.provider.stake }).from(schema.provider);
    expect(rows.map((r) => r.id).sort()).toEqual([provider, other].sort());
    expect(rows.find((r) => r.id === provider)?.stake).toBe(10n ** 17n);
  });

  it("drops a session whose block is reorged away", async () => {
    const { ComputeRental: rental } = stack.deployments;
    const snapshot = await rpc<string>(stack.anvil.rpcUrl, "evm_snapshot");
    await send(
      RENTER_KEY,
      rental,
      "createSession(address,uint256,string,uint256,address)",
      provider,
      "1",
      SSH_KEY,
      "1",
      zeroAddress,
      "--value",
      "0.01ether",
    );
    await within(3_000, async () => indexer.getSession(2n));
    expect((await indexer.getProvider(provider)).activeRentals).toBe(1);

    expect(await rpc<boolean>(stack.anvil.rpcUrl, "evm_revert", [snapshot])).toBe(true);
    // A longer competing chain without the session.
    await rpc(stack.anvil.rpcUrl, "anvil_mine", ["0x3"]);
    await within(10_000, async () => {
      const res = await fetch(`${stack.indexer.url}/sessions/2`);
      return res.status === 404 ? true : undefined;
    });
    expect(await indexer.getProvider(provider)).toMatchObject({ activeRentals: 0, gpusInUse: 0, totalSessions: 1 });
    expect(await indexer.stats()).toMatchObject({ sessions: 1, activeSessions: 0 });
  });
  it("indexes extensions, rejections, cancellations with their slash, unstaking, withdrawals and governance", async () => {
    const { ComputeRegistry: registry, ComputeRental: rental } = stack.deployments;
    const renter = (await cast(["wallet", "address", RENTER_KEY])).toLowerCase();
    const nextId = async () =>
      BigInt(await cast(["call", "--rpc-url", stack.anvil.rpcUrl, rental, "nextSessionId()(uint256)"]));
    const create = async () => {
      const id = await nextId();
      await send(
        RENTER_KEY,
        rental,
        "createSession(address,uint256,string,uint256,address)",
        provider,
        "1",
        SSH_KEY,
        "1",
        zeroAddress,
        "--value",
        "0.01ether",
      );
      return id;
    };
    const status = (id: bigint, want: string) =>
      within(3_000, async () => {
        const v = await indexer.getSession(id);
        return v.status === want ? v : undefined;
      }).then((r) => r.value);

    // Extend, then the provider rejects: full refund of everything prepaid.
    const rejected = await create();
    await send(RENTER_KEY, rental, "extendSession(uint256,uint256)", rejected.toString(), "2", "--value", "0.02ether");
    await within(3_000, async () => ((await indexer.getSession(rejected)).durationHours === 3n ? true : undefined));
    await send(PROVIDER_KEY, rental, "rejectSession(uint256,string)", rejected.toString(), "no capacity");
    expect(await status(rejected, "rejected")).toMatchObject({
      prepaid: 3n * 10n ** 16n,
      refund: 3n * 10n ** 16n,
      reason: "no capacity",
      providerPayout: 0n,
    });

    // Still pending after the provision timeout (1 h): the renter cancels, the provider is struck and slashed.
    const cancelled = await create();
    await rpc(stack.anvil.rpcUrl, "evm_increaseTime", [3_601]);
    await send(RENTER_KEY, rental, "cancelSession(uint256)", cancelled.toString());
    expect(await status(cancelled, "cancelled")).toMatchObject({ refund: 10n ** 16n, slashed: 10n ** 16n });
    const afterSlash = await indexer.getProvider(provider);
    expect(afterSlash).toMatchObject({
      strikes: 1,
      totalSlashed: 10n ** 16n,
      stake: 9n * 10n ** 16n,
      activeRentals: 0,
      gpusInUse: 0,
    });
    // The stake fell below the 0.1 ETH minimum: deactivated.
    expect(afterSlash.active).toBe(false);

    await send(PROVIDER_KEY, registry, "addStake()", "--value", "0.05ether");
    await send(PROVIDER_KEY, registry, "requestUnstake(uint256)", "20000000000000000");
    await send(RENTER_KEY, rental, "withdraw(address)", zeroAddress);
    const p = (
      await within(3_000, async () => {
        const v = await indexer.getProvider(provider);
        return v.pendingUnstake === 2n * 10n ** 16n ? v : undefined;
      })
    ).value;
    expect(p.stake).toBe(12n * 10n ** 16n);
    expect(p.unstakeUnlockTime).toBeGreaterThan(0n);

    const data = await within(3_000, async () => {
      const d = await gql(`{
        slashs { items { provider amount reason beneficiary strikes } }
        withdrawals { items { contract account token amount } }
        stakeEvents(where: { provider: "${provider}" }, orderBy: "timestamp") { items { kind amount } }
        protocol(id: "global") { minStake feeBps provisionTimeout cancelSlashAmount unbondingPeriod authorizationToken }
        paymentTokens { items { id allowed } }
      }`);
      return d.withdrawals.items.length > 0 ? d : undefined;
    }).then((r) => r.value);
    expect(data.slashs.items).toEqual([
      { provider, amount: "10000000000000000", reason: "provision timeout", beneficiary: renter, strikes: 1 },
    ]);
    expect(data.withdrawals.items).toEqual([
      { contract: "rental", account: renter, token: zeroAddress, amount: expect.any(String) },
    ]);
    expect(data.stakeEvents.items.map((e: Json) => e.kind)).toEqual(["registered", "added", "unstake_requested"]);
    expect(data.protocol).toMatchObject({
      minStake: "100000000000000000",
      feeBps: "250",
      provisionTimeout: "3600",
      cancelSlashAmount: "10000000000000000",
    });
    expect(data.protocol.authorizationToken).toBe(stack.deployments.USDC.toLowerCase());
    expect(data.paymentTokens.items).toEqual([{ id: stack.deployments.USDC.toLowerCase(), allowed: true }]);
    const stats = await indexer.stats();
    expect(stats).toMatchObject({
      rejectedSessions: 1,
      cancelledSessions: 1,
      slashes: 1,
      totalSlashed: 10n ** 16n,
      activeSessions: 0,
    });
  });
});
