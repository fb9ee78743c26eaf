import { describe, expect, it } from "vitest";
import { BadRequest, normalizeAddress, parseProviderQuery, parseSessionId, parseSessionQuery } from "./params.ts";

const USDC = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9" as const;

describe("parseProviderQuery", () => {
  it("parses every filter", () => {
    expect(
      parseProviderQuery(
        {
          model: "llama2",
          minGpus: "2",
          tee: "sev-snp",
          maxPrice: "2500000",
          token: "USDC",
          active: "true",
          sort: "price_desc",
          limit: "5",
        },
        USDC,
      ),
    ).toEqual({
      model: "llama2",
      minGpus: 2,
      tee: "AmdSevSnp",
      maxPrice: 2_500_000n,
      token: USDC,
      active: true,
      sort: "price_desc",
      limit: 5,
      offset: 0,
    });
  });

  it("defaults to the native token and accepts addresses in any case", () => {
    expect(parseProviderQuery({}).token).toBe("0x0000000000000000000000000000000000000000");
    expect(parseProviderQuery({ token: USDC.toUpperCase().replace("0X", "0x") }).token).toBe(USDC);
  });

  it("rejects bad values naming the parameter", () => {
    for (const [q, param] of [
      [{ minGpus: "-1" }, "minGpus"],
      [{ maxPrice: "1.5" }, "maxPrice"],
      [{ tee: "quantum" }, "tee"],
      [{ token: "0x12" }, "token"],
      [{ sort: "name" }, "sort"],
      [{ limit: "0" }, "limit"],
      [{ active: "maybe" }, "active"],
    ] as const) {
      const err = (() => {
        try {
          parseProviderQuery(q);
        } catch (e) {
          return e;
        }
      })();
      expect(err, JSON.stringify(q)).toBeInstanceOf(BadRequest);
      expect((err as BadRequest).param).toBe(param);
    }
  });
});

describe("sessions and ids", () => {
  it("lowercases renter and validates status", () => {
    expect(parseSessionQuery({ renter: "0x90F79bf6EB2c4f870365E785982E1f101E93b906", status: "Active" })).toEqual({
      renter: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
      status: "active",
      limit: 100,
      offset: 0,
    });
    expect(() => parseSessionQuery({ status: "gone" })).toThrow(BadRequest);
  });

  it("parses session ids and provider ids", () => {
    expect(parseSessionId("42")).toBe(42n);
    expect(parseSessionId("0")).toBeUndefined();
    expect(parseSessionId("abc")).toBeUndefined();
    expect(normalizeAddress("provider-0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")).toBe(
      "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
    );
    expect(normalizeAddress("0x123")).toBeUndefined();
  });
});
