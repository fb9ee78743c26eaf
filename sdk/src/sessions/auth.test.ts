import { recoverMessageAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { parseSessionSignatureHeader, sessionRequestMessage, signSessionRequest } from "./auth.ts";

describe("session request signatures", () => {
  it("builds the exact message and a header the node can parse and recover", async () => {
    expect(
      sessionRequestMessage({ sessionId: 7n, method: "post", path: "/v1/sessions/7/containers", expires: 1700000000 }),
    ).toBe("Compute session 7\nPOST /v1/sessions/7/containers\nexpires 1700000000");
    const account = privateKeyToAccount(generatePrivateKey());
    const header = await signSessionRequest({
      signer: account,
      sessionId: "7",
      method: "GET",
      path: "/v1/sessions/7/containers",
      expires: 1700000000,
    });
    const parsed = parseSessionSignatureHeader(header);
    expect(parsed?.expires).toBe(1700000000);
    const message = sessionRequestMessage({
      sessionId: 7,
      method: "GET",
      path: "/v1/sessions/7/containers",
      expires: 1700000000,
    });
    expect(await recoverMessageAddress({ message, signature: parsed!.signature })).toBe(account.address);
    expect(parseSessionSignatureHeader("nope")).toBeUndefined();
    expect(parseSessionSignatureHeader("12.0x1234")).toBeUndefined();
  });
});
