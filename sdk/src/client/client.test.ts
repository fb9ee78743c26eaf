import {
  BaseError,
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  encodeErrorResult,
  getAddress,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { computeRegistryAbi, computeRentalAbi } from "../abis/index.ts";
import { ComputeClient, parseProviderId, parseSession } from "./client.ts";
import {
  apiErrorFromResponse,
  ComputeApiError,
  ComputeContractError,
  ComputeError,
  decodeComputeError,
} from "./errors.ts";

const PROVIDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

function reverted(
  abi: typeof computeRegistryAbi | typeof computeRentalAbi,
  errorName: string,
  args?: readonly unknown[],
) {
  const data = encodeErrorResult({ abi, errorName, args } as never);
  const inner = new ContractFunctionRevertedError({
    abi,
    data,
    functionName: "createSession",
  } as never);
  return new ContractFunctionExecutionError(
    inner as BaseError,
    { abi: computeRentalAbi, functionName: "createSession", args: [] } as never,
  );
}

describe("decodeComputeError", () => {
  it("decodes a registry error raised through the rental contract", () => {
    const err = decodeComputeError(
      reverted(computeRegistryAbi, "InsufficientGpus", [PROVIDER, 9n, 8n]),
      "createSession",
    );
    expect(err).toBeInstanceOf(ComputeContractError);
    const e = err as ComputeContractError;
    expect(e.errorName).toBe("InsufficientGpus");
    expect(e.args).toEqual([PROVIDER, 9n, 8n]);
    expect(e.code).toBe("contract_revert");
    expect(e.message).toBe(`createSession reverted: InsufficientGpus(${PROVIDER}, 9, 8)`);
  });

  it("decodes argument-less rental errors", () => {
    const e = decodeComputeError(reverted(computeRentalAbi, "SshKeyEmpty")) as ComputeContractError;
    expect(e.errorName).toBe("SshKeyEmpty");
    expect(e.args).toEqual([]);
  });

  it("decodes raw revert data the ABI of the call did not know", () => {
    const data = encodeErrorResult({
      abi: computeRegistryAbi,
      errorName: "ProviderNotActive",
      args: [PROVIDER],
    });
    const raw = new BaseError("execution reverted", {
      cause: Object.assign(new Error("rpc"), { data }) as never,
    });
    const e = decodeComputeError(raw) as ComputeContractError;
    expect(e).toBeInstanceOf(ComputeContractError);
    expect(e.errorName).toBe("ProviderNotActive");
    expect(e.args).toEqual([PROVIDER]);
  });

  it("leaves other errors alone", () => {
    const plain = new Error("boom");
    expect(decodeComputeError(plain)).toBe(plain);
  });
});

describe("apiErrorFromResponse", () => {
  it("unpacks the OpenAI-shaped error", async () => {
    const res = new Response(
      JSON.stringify({
        error: {
          message: "No such session.",
          type: "invalid_request_error",
          code: "session_not_found",
        },
      }),
      { status: 404 },
    );
    const e = await apiErrorFromResponse(res, "session 7");
    expect(e).toBeInstanceOf(ComputeApiError);
    expect(e).toBeInstanceOf(ComputeError);
    expect(e.status).toBe(404);
    expect(e.code).toBe("session_not_found");
    expect(e.type).toBe("invalid_request_error");
    expect(e.message).toBe("session 7: No such session. (HTTP 404)");
  });

  it("handles non-JSON bodies", async () => {
    const e = await apiErrorFromResponse(
      new Response("upstream down", { status: 502, statusText: "Bad Gateway" }),
      "x",
    );
    expect(e.code).toBe("http_502");
    expect(e.message).toBe("x: HTTP 502 Bad Gateway — upstream down");
  });
});

describe("parseProviderId", () => {
  it("accepts the docs' provider-0x… ids and bare addresses", () => {
    expect(parseProviderId(`provider-${PROVIDER.toLowerCase()}`)).toBe(PROVIDER);
    expect(parseProviderId(PROVIDER)).toBe(PROVIDER);
  });
  it("refuses anything else", () => {
    expect(() => parseProviderId("provider-0x1234...")).toThrow(/Invalid provider id/);
  });
});

describe("parseSession", () => {
  it("turns the node's JSON into bigints and numbers", () => {
    const s = parseSession({
      id: "3",
      status: "active",
      renter: account.address.toLowerCase(),
      provider: PROVIDER,
      token: zeroAddress,
      gpuCount: 2,
      durationHours: 24,
      ratePerHour: "10000000000000000",
      prepaid: "480000000000000000",
      used: "5555555555555",
      refundableNow: "479994444444444445",
      createdAt: 1700000000,
      activatedAt: 1700000002,
      expiresAt: 1700086402,
      endedAt: null,
      ssh: { host: "127.0.0.1", port: 2222, username: "session-3" },
    });
    expect(s).toEqual({
      id: "3",
      status: "active",
      renter: account.address,
      provider: getAddress(PROVIDER),
      token: zeroAddress,
      gpuCount: 2,
      durationHours: 24,
      ratePerHour: 10_000_000_000_000_000n,
      prepaid: 480_000_000_000_000_000n,
      used: 5_555_555_555_555n,
      refundableNow: 479_994_444_444_444_445n,
      createdAt: 1700000000,
      activatedAt: 1700000002,
      expiresAt: 1700086402,
      endedAt: null,
      ssh: { host: "127.0.0.1", port: 2222, username: "session-3" },
    });
  });
  it("reads contract-shaped records (numeric status, startedAt)", () => {
    const s = parseSession({
      sessionId: "1",
      status: 4,
      renter: account.address,
      provider: PROVIDER,
      token: zeroAddress,
      startedAt: "0",
    });
    expect(s.status).toBe("rejected");
    expect(s.activatedAt).toBeNull();
    expect(s.ssh).toBeNull();
  });
});

describe("ComputeClient", () => {
  it("reports an unreachable endpoint as a ComputeApiError", async () => {
    const compute = new ComputeClient({
      endpoint: "http://127.0.0.1:1",
      wallet: account,
    });
    const err = await compute.network().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComputeApiError);
    expect((err as ComputeApiError).code).toBe("unreachable");
    expect((err as ComputeApiError).message).toMatch(/^network discovery: cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  it("surfaces the endpoint's HTTP errors with status and code", async () => {
    const fetchStub = (async () =>
      new Response(
        JSON.stringify({
          error: {
            message: "Unknown provider.",
            type: "invalid_request_error",
            code: "provider_not_found",
          },
        }),
        {
          status: 404,
        },
      )) as unknown as typeof fetch;
    const compute = new ComputeClient({
      endpoint: "http://node.test/",
      wallet: account,
      fetch: fetchStub,
    });
    const err = await compute.listProviders({ minGpus: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: "provider_not_found" });
  });

  it("passes filters as query parameters", async () => {
    let seen = "";
    const fetchStub = (async (url: string) => {
      seen = url;
      return new Response(JSON.stringify({ object: "list", data: [] }));
    }) as unknown as typeof fetch;
    const compute = new ComputeClient({
      endpoint: "http://node.test",
      wallet: account,
      fetch: fetchStub,
    });
    expect(
      await compute.listProviders({
        minGpus: 2,
        model: "llama",
        active: "all",
      }),
    ).toEqual([]);
    expect(seen).toBe("http://node.test/v1/providers?minGpus=2&model=llama&active=all");
  });

  it("validates arguments before touching the network", async () => {
    const compute = new ComputeClient({
      endpoint: "http://127.0.0.1:1",
      wallet: account,
    });
    await expect(
      compute.createSession({
        providerId: PROVIDER,
        durationHours: 0,
        sshPublicKey: "k",
        gpuCount: 1,
      }),
    ).rejects.toMatchObject({
      code: "invalid_duration",
    });
    await expect(compute.getSession("abc")).rejects.toMatchObject({
      code: "invalid_session_id",
    });
    expect(compute.address).toBe(account.address);
  });
});
