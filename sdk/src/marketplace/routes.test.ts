import { IndexerNotFoundError, IndexerUnavailableError, type IndexerClient, type Provider } from "../indexer/index.ts";
import { keccak256, toBytes, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import { parseAttestation } from "./format.ts";
import { providersRoutes } from "./routes.ts";

const USDC = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9" as const;
const ADDR = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc" as const;
const attestation = JSON.stringify({ type: "tdx", measurements: { mr_enclave: "0xaa", MRSIGNER: "0xbb" } });

function provider(over: Partial<Provider> = {}): Provider {
  return {
    id: ADDR,
    address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    endpoint: "https://mynode.example.com:4007",
    attestation,
    attestationHash: keccak256(toBytes(attestation)),
    stake: 10n ** 17n,
    pendingUnstake: 0n,
    unstakeUnlockTime: 0n,
    pricePerHour: 10n ** 16n,
    active: true,
    lastHeartbeat: 1_700_000_000n,
    hardware: {
      gpuModel: "NVIDIA H100",
      gpuCount: 8,
      vramGb: 80,
      cpuCores: 64,
      memoryGb: 512,
      storageGb: 2000,
      teeType: "IntelTDX",
    },
    maxConcurrentRentals: 4,
    activeRentals: 1,
    gpusInUse: 2,
    gpusAvailable: 6,
    totalSessions: 3,
    strikes: 0,
    totalSlashed: 0n,
    registeredAt: 1_700_000_000n,
    registeredBlock: 5n,
    updatedAt: 1_700_000_000n,
    models: [{ name: "llama2", inputPricePerToken: 1n, outputPricePerToken: 2n }],
    tokenPrices: [
      { token: zeroAddress, pricePerHour: 10n ** 16n },
      { token: USDC.toLowerCase() as `0x${string}`, pricePerHour: 2_500_000n },
    ],
    ...over,
  };
}

function fakeIndexer(providers: Provider[], opts: { down?: boolean } = {}) {
  const calls: unknown[] = [];
  const client: IndexerClient = {
    url: "http://indexer",
    async listProviders(filters = {}) {
      calls.push(filters);
      if (opts.down) throw new IndexerUnavailableError("http://indexer", new Error("ECONNREFUSED"));
      return { providers, limit: 100, offset: 0 };
    },
    async getProvider(id) {
      if (opts.down) throw new IndexerUnavailableError("http://indexer", new Error("ECONNREFUSED"));
      const p = providers.find((x) => x.id === id.toLowerCase());
      if (!p) throw new IndexerNotFoundError(`Provider ${id} not found.`, 404, "provider_not_found", "id");
      return p;
    },
    getSession: () => Promise.reject(new Error("unused")),
    listSessions: () => Promise.reject(new Error("unused")),
    stats: () => Promise.reject(new Error("unused")),
    graphql: () => Promise.reject(new Error("unused")),
    ready: async () => true,
  };
  return { client, calls };
}

describe("providersRoutes", () => {
  it("lists providers with hardware, USDC pricing, availability and TEE status", async () => {
    const { client, calls } = fakeIndexer([provider()]);
    const app = providersRoutes({ indexer: client, usdc: USDC });
    const res = await app.request("/v1/providers?model=llama2&tee=tdx&sort=price_asc");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: Record<string, any>[] };
    expect(calls[0]).toEqual({ model: "llama2", tee: "tdx", sort: "price_asc", active: true });
    expect(body.object).toBe("list");
    const p = body.data[0]!;
    expect(p.id).toBe("provider-0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
    expect(p.hardware).toEqual({
      gpus: { model: "NVIDIA H100", count: 8, vramGb: 80 },
      cpu: { cores: 64 },
      memory: { gb: 512 },
      storage: { gb: 2000 },
    });
    expect(p.pricing.hourlyRate).toEqual({
      token: USDC,
      symbol: "USDC",
      decimals: 6,
      amount: "2500000",
      formatted: "2.5",
    });
    expect(p.pricing.rates).toContainEqual({
      token: zeroAddress,
      symbol: "ETH",
      decimals: 18,
      amount: "10000000000000000",
      formatted: "0.01",
    });
    expect(p.pricing.models[0]).toMatchObject({ name: "llama2", symbol: "USDC", decimals: 6, inputPricePerToken: "1" });
    expect(p.availability).toEqual({
      gpusTotal: 8,
      gpusInUse: 2,
      gpusAvailable: 6,
      activeRentals: 1,
      maxConcurrentRentals: 4,
      acceptingRentals: true,
    });
    expect(p.tee).toMatchObject({ type: "IntelTDX", name: "Intel TDX", enabled: true, verified: true });
  });

  it("active=all lists inactive providers too", async () => {
    const { client, calls } = fakeIndexer([]);
    await providersRoutes({ indexer: client }).request("/v1/providers?active=all");
    expect(calls[0]).toEqual({});
  });

  it("finds a provider by provider-0x… id and by address in any case", async () => {
    const app = providersRoutes({ indexer: fakeIndexer([provider()]).client, usdc: USDC });
    for (const id of [
      `provider-${ADDR}`,
      ADDR.toUpperCase().replace("0X", "0x"),
      "provider-0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    ]) {
      const res = await app.request(`/v1/providers/${id}`);
      expect(res.status, id).toBe(200);
      expect(((await res.json()) as { address: string }).address).toBe("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
    }
  });

  it("answers 404 provider_not_found for an unknown provider", async () => {
    const app = providersRoutes({ indexer: fakeIndexer([]).client });
    const id = "provider-0x0000000000000000000000000000000000000001";
    const res = await app.request(`/v1/providers/${id}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: `Provider '${id}' not found.`,
        type: "invalid_request_error",
        param: "id",
        code: "provider_not_found",
      },
    });
    expect((await app.request(`/v1/providers/${id}/attestation`)).status).toBe(404);
  });

  it("answers 400 for an id that is not an address and 503 when the indexer is down", async () => {
    const bad = await providersRoutes({ indexer: fakeIndexer([]).client }).request("/v1/providers/nope");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_provider_id");
    const down = await providersRoutes({ indexer: fakeIndexer([], { down: true }).client }).request("/v1/providers");
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe("indexer_unavailable");
  });

  it("serves the attestation with measurements parsed from JSON", async () => {
    const app = providersRoutes({ indexer: fakeIndexer([provider()]).client });
    const res = await app.request(`/v1/providers/${ADDR}/attestation`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.tee).toEqual({ type: "IntelTDX", name: "Intel TDX", enabled: true });
    expect(body.verified).toBe(true);
    expect(body.verification).toMatchObject({ hashMatches: true, quoteVerified: false });
    expect(body.report).toMatchObject({ format: "json", data: attestation });
    expect(body.measurements).toMatchObject({ mrenclave: "0xaa", mrsigner: "0xbb" });
  });

  it("does not call a provider verified when the attestation does not match its on-chain hash", async () => {
    const p = provider({ attestationHash: keccak256(toBytes("other")) });
    const body = (await (
      await providersRoutes({ indexer: fakeIndexer([p]).client }).request(`/v1/providers/${ADDR}/attestation`)
    ).json()) as Record<string, any>;
    expect(body.verified).toBe(false);
    expect(body.verification.hashMatches).toBe(false);
  });
});

describe("parseAttestation", () => {
  it("returns null measurements for non-JSON data", () => {
    expect(parseAttestation("0xdeadbeef")).toMatchObject({
      format: "hex",
      measurements: { mrenclave: null, mrsigner: null },
    });
    expect(parseAttestation("")).toMatchObject({ format: "none" });
    expect(parseAttestation("{not json")).toMatchObject({ format: "text", measurements: { mrenclave: null } });
  });
});
