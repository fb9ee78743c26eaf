import { describe, expect, it } from "vitest";
import { createIndexerClient } from "./client.ts";
import {
  IndexerBadRequestError,
  IndexerGraphQLError,
  IndexerNotFoundError,
  IndexerUnavailableError,
} from "./errors.ts";
import { parseTeeType } from "./tee.ts";

function fakeFetch(handler: (url: URL, init?: RequestInit) => Response): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      urls.push(url.pathname + url.search);
      return handler(url, init);
    }) as typeof fetch,
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("createIndexerClient", () => {
  it("sends filters as query parameters and parses bigints", async () => {
    const f = fakeFetch(() =>
      json({
        providers: [
          {
            id: "0xab",
            stake: "100000000000000000000000",
            pendingUnstake: "0",
            unstakeUnlockTime: "0",
            pricePerHour: "1",
            lastHeartbeat: "2",
            totalSlashed: "0",
            registeredAt: "3",
            registeredBlock: "4",
            updatedAt: "5",
            models: [{ name: "m", inputPricePerToken: "7", outputPricePerToken: "8" }],
            tokenPrices: [{ token: "0x00", pricePerHour: "9" }],
          },
        ],
        limit: 10,
        offset: 0,
      }),
    );
    const client = createIndexerClient("http://idx/", { fetch: f.fetch });
    const { providers } = await client.listProviders({
      model: "llama2",
      maxPrice: 5n,
      token: "usdc",
      active: true,
      sort: "price_asc",
      limit: 10,
    });
    expect(f.urls[0]).toBe("/providers?model=llama2&maxPrice=5&token=usdc&active=true&sort=price_asc&limit=10");
    expect(providers[0]?.stake).toBe(100000000000000000000000n);
    expect(providers[0]?.models[0]?.outputPricePerToken).toBe(8n);
    expect(providers[0]?.tokenPrices[0]?.pricePerHour).toBe(9n);
  });

  it("throws typed errors: 404, 400, unreachable, GraphQL", async () => {
    const f = fakeFetch((url) => {
      if (url.pathname.startsWith("/providers/")) {
        return json(
          {
            error: {
              message: "Provider 0x1 not found.",
              type: "invalid_request_error",
              param: "id",
              code: "provider_not_found",
            },
          },
          404,
        );
      }
      if (url.pathname === "/sessions")
        return json(
          {
            error: { message: "bad renter", type: "invalid_request_error", param: "renter", code: "invalid_parameter" },
          },
          400,
        );
      return json({ errors: [{ message: "Cannot query field" }] });
    });
    const client = createIndexerClient("http://idx", { fetch: f.fetch });
    const notFound = await client.getProvider("0x1").catch((e) => e);
    expect(notFound).toBeInstanceOf(IndexerNotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: "provider_not_found", retryable: false });
    await expect(client.listSessions({ renter: "x" })).rejects.toBeInstanceOf(IndexerBadRequestError);
    await expect(client.graphql("{ nope }")).rejects.toBeInstanceOf(IndexerGraphQLError);
    const down = createIndexerClient("http://127.0.0.1:1", { timeoutMs: 2_000 });
    const err = await down.stats().catch((e) => e);
    expect(err).toBeInstanceOf(IndexerUnavailableError);
    expect(err.retryable).toBe(true);
  });
});

describe("parseTeeType", () => {
  it("accepts enum names and common spellings", () => {
    expect(parseTeeType("tdx")).toBe("IntelTDX");
    expect(parseTeeType("Intel TDX")).toBe("IntelTDX");
    expect(parseTeeType("sev-snp")).toBe("AmdSevSnp");
    expect(parseTeeType("nvidia-cc")).toBe("NvidiaCC");
    expect(parseTeeType("NONE")).toBe("None");
    expect(parseTeeType("any")).toBe("any");
    expect(parseTeeType("quantum")).toBeUndefined();
  });
});
