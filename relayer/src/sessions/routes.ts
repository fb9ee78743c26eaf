/**
 * Gasless rental sessions. The renter signs, the relayer pays the gas:
 *
 * - `POST /v1/sessions` with an EIP-3009 `receiveWithAuthorization` to the rental contract whose nonce is
 *   `sessionAuthorizationNonce(provider, durationHours, sshPublicKey, gpuCount, salt)` → the relayer checks it,
 *   simulates and sends `createSessionWithAuthorization`; the session belongs to the signer. `201` with the
 *   `SessionCreated` values. Sending the same request again returns the same session (idempotent by nonce).
 * - `POST /v1/sessions` without a payment: forwarded to the session's provider (registered and active, its
 *   registered endpoint), whose answer is the 402 quote with the exact cost and how to pay.
 * - `DELETE /v1/sessions/:id` with the renter's EIP-712 `EndSession` signature → `endSessionBySig`; `200` with
 *   the `SessionEnded` values (refund credited to the renter in the contract).
 * - `GET /v1/sessions/:id` → the on-chain session, with `ssh` `{host, port, username, hostKey}` from its
 *   SessionActivated event while it is active (what the provider published; the gateway adds nothing of its own).
 */
import { addressSchema, exactEvmPayloadSchema, sessionAuthorizationNonce } from "@jeju/compute-sdk/x402/index";
import { Hono } from "hono";
import { encodeFunctionData, getAddress, type Hex, isAddressEqual, parseEventLogs, type PublicClient } from "viem";
import { z } from "zod";
import type { TxQueue } from "../chain/txQueue.ts";
import { badRequest, RelayerError, rateLimited } from "../errors.ts";
import type { RateLimiter } from "../http/rateLimit.ts";
import type { Logger } from "../logger.ts";
import { parseConnection } from "../ssh/targets.ts";
import { endpointBase } from "../gateway/directory.ts";
import { parseProviderId } from "@jeju/compute-sdk/marketplace/index";
import { readBodyLimited } from "@jeju/compute-sdk/openai/index";
import { computeRegistryAbi, computeRentalAbi as rentalRelayAbi, localUsdcAbi } from "@jeju/compute-sdk/abis/index";

/** Everything a relayed call can revert with (rental, registry, token), to name the error. */
const revertAbi = [...rentalRelayAbi, ...computeRegistryAbi, ...localUsdcAbi];

export type SessionsDeps = {
  queue: TxQueue;
  publicClient: PublicClient;
  chainId: number;
  rental: `0x${string}`;
  usdc: `0x${string}`;
  log: Logger;
  rateLimiter?: RateLimiter;
  receiptTimeoutMs?: number;
  /** Where event searches start (the deployment block). */
  startBlock?: bigint;
  /** ComputeRegistry: without a payment, POST / asks the session's provider for its quote. */
  registry?: `0x${string}`;
  fetch?: typeof fetch;
};

const QUOTE_TIMEOUT_MS = 10_000;

/** Forwards a session request without payment to its provider's node, which answers with its 402 quote. */
async function quoteFromProvider(
  deps: SessionsDeps,
  registry: `0x${string}`,
  raw: Record<string, unknown>,
): Promise<Response> {
  const id = typeof raw.providerId === "string" ? raw.providerId : typeof raw.provider === "string" ? raw.provider : "";
  const provider = parseProviderId(id);
  if (provider === undefined) {
    throw badRequest("invalid_request", "Invalid 'providerId': a provider address (0x…) or provider-0x… is required.");
  }
  const p = await deps.publicClient.readContract({
    address: registry,
    abi: computeRegistryAbi,
    functionName: "getProvider",
    args: [provider],
  });
  const base = p.registered && p.active ? endpointBase(p.endpoint) : undefined;
  if (base === undefined) {
    throw new RelayerError(
      404,
      "provider_not_found",
      `Provider ${id} is not an active registered provider with an http(s) endpoint.`,
    );
  }
  let res: Response;
  try {
    res = await (deps.fetch ?? fetch)(`${base}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(raw),
      signal: AbortSignal.timeout(QUOTE_TIMEOUT_MS),
    });
  } catch (err) {
    throw new RelayerError(
      502,
      "provider_unreachable",
      `Provider ${provider} did not answer: ${(err as Error).message}`,
      { retryable: true },
    );
  }
  // A provider's answer is a small JSON quote; never buffer more than 1 MiB of it.
  let bytes: Uint8Array;
  try {
    bytes = await readBodyLimited(res.body, 1024 * 1024);
  } catch {
    throw new RelayerError(502, "provider_bad_answer", `Provider ${provider} answered with more than 1 MiB.`);
  }
  return new Response(bytes, {
    status: res.status,
    headers: {
      "content-type": res.headers.get("content-type") ?? "application/json",
      "x-compute-provider": `provider-${getAddress(provider)}`,
    },
  });
}

const uint = z.union([z.string().regex(/^\d+$/), z.number().int().min(0)]).transform((v) => BigInt(v));
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

const createSchema = z.object({
  provider: addressSchema,
  durationHours: uint,
  sshPublicKey: z.string().min(1),
  gpuCount: uint.default(0n),
  salt: bytes32,
  payment: exactEvmPayloadSchema,
});

const endSchema = z.object({ deadline: uint, signature: z.string().regex(/^0x[0-9a-fA-F]+$/) });

async function readJson(req: Request): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw badRequest("invalid_json", "Request body is not valid JSON.");
  }
}

async function body<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  return parseBody(schema, await readJson(req));
}

function parseBody<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest("invalid_request", `Invalid '${issue?.path.join(".") ?? ""}': ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

function sessionIdParam(id: string): bigint {
  if (!/^\d+$/.test(id)) throw badRequest("invalid_session_id", `Session id must be a decimal integer, got '${id}'.`);
  return BigInt(id);
}

export function sessionsRoute(deps: SessionsDeps): Hono {
  const app = new Hono();
  const { publicClient: pc, rental, usdc } = deps;

  app.post("/", async (c) => {
    const raw = await readJson(c.req.raw);
    // No payment yet: the session's provider quotes it (402 with the exact cost and how to pay), as when the
    // renter asks that node directly. Only a registered, active provider's own endpoint is called.
    if (deps.registry !== undefined && typeof raw === "object" && raw !== null && !("payment" in raw)) {
      return quoteFromProvider(deps, deps.registry, raw as Record<string, unknown>);
    }
    const b = parseBody(createSchema, raw);
    const a = b.payment.authorization;
    const from = getAddress(a.from);
    const provider = getAddress(b.provider);
    if (!isAddressEqual(a.to as `0x${string}`, rental)) {
      throw badRequest("recipient_mismatch", `The authorization must pay the rental contract ${rental}.`);
    }
    const expectedNonce = sessionAuthorizationNonce({
      provider,
      durationHours: b.durationHours,
      sshPublicKey: b.sshPublicKey,
      gpuCount: b.gpuCount,
      salt: b.salt as Hex,
    });
    if (a.nonce.toLowerCase() !== expectedNonce.toLowerCase()) {
      throw badRequest(
        "nonce_not_bound",
        "The authorization nonce must be sessionAuthorizationNonce(provider, durationHours, sshPublicKey, gpuCount, salt).",
        { expected: expectedNonce },
      );
    }
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (BigInt(a.validBefore) <= now + 5n) throw badRequest("authorization_expired", "The authorization has expired.");
    if (BigInt(a.validAfter) > now)
      throw badRequest("authorization_not_yet_valid", "The authorization is not valid yet.");
    const wait = deps.rateLimiter?.take(from) ?? 0;
    if (wait > 0) throw rateLimited(from, wait);

    const key = `session:${deps.chainId}:${from.toLowerCase()}:${a.nonce.toLowerCase()}`;
    if (!deps.queue.getByKey(key)) {
      const cost = await pc.readContract({
        address: rental,
        abi: rentalRelayAbi,
        functionName: "quote",
        args: [provider, usdc, b.gpuCount, b.durationHours],
      });
      if (cost === 0n) {
        throw badRequest("provider_not_priced", `Provider ${provider} does not accept ${usdc} (quote is 0).`);
      }
      if (BigInt(a.value) !== cost) {
        throw new RelayerError(
          402,
          "amount_mismatch",
          `The session costs ${cost}; the authorization is for ${a.value}.`,
          {
            details: { expected: cost.toString() },
          },
        );
      }
    }
    const data = encodeFunctionData({
      abi: rentalRelayAbi,
      functionName: "createSessionWithAuthorization",
      args: [
        provider,
        b.durationHours,
        b.sshPublicKey,
        b.gpuCount,
        from,
        BigInt(a.validAfter),
        BigInt(a.validBefore),
        b.salt as Hex,
        b.payment.signature as Hex,
      ],
    });
    const { hash, reused } = await deps.queue.submit({ to: rental, data, key, abi: revertAbi });
    const receipt = await deps.queue.waitForReceipt(hash, deps.receiptTimeoutMs);
    if (receipt.status !== "success") {
      throw new RelayerError(502, "transaction_reverted", `createSessionWithAuthorization reverted (${hash}).`, {
        details: { transaction: hash },
      });
    }
    const [ev] = parseEventLogs({ abi: rentalRelayAbi, eventName: "SessionCreated", logs: receipt.logs });
    if (!ev) throw new RelayerError(502, "event_missing", `No SessionCreated in ${hash}.`);
    deps.log.info(
      { sessionId: ev.args.sessionId.toString(), renter: from, tx: hash, reused },
      "gasless session created",
    );
    return c.json(
      {
        sessionId: ev.args.sessionId.toString(),
        renter: ev.args.renter,
        provider: ev.args.provider,
        token: ev.args.token,
        ratePerHour: ev.args.ratePerHour.toString(),
        gpuCount: ev.args.gpuCount.toString(),
        durationHours: ev.args.durationHours.toString(),
        prepaid: ev.args.prepaid.toString(),
        transaction: hash,
        blockNumber: receipt.blockNumber.toString(),
      },
      reused ? 200 : 201,
    );
  });

  app.get("/:id", async (c) => {
    const id = sessionIdParam(c.req.param("id"));
    const s = await pc.readContract({ address: rental, abi: rentalRelayAbi, functionName: "getSession", args: [id] });
    if (s.status === 0) throw new RelayerError(404, "session_not_found", `Session ${id} does not exist.`);
    let ssh: ReturnType<typeof parseConnection> | null = null;
    if (s.status === 2) {
      const [activated] = await pc.getContractEvents({
        address: rental,
        abi: rentalRelayAbi,
        eventName: "SessionActivated",
        args: { sessionId: id },
        fromBlock: deps.startBlock ?? 0n,
        strict: true,
      });
      ssh = (activated && parseConnection(activated.args.connection)) ?? null;
    }
    return c.json(jsonSafe({ sessionId: id, ...s, ssh }));
  });

  app.delete("/:id", async (c) => {
    const id = sessionIdParam(c.req.param("id"));
    const b = await body(c.req.raw, endSchema);
    const s = await pc.readContract({ address: rental, abi: rentalRelayAbi, functionName: "getSession", args: [id] });
    if (s.status === 0) throw new RelayerError(404, "session_not_found", `Session ${id} does not exist.`);
    const wait = deps.rateLimiter?.take(s.renter) ?? 0;
    if (wait > 0) throw rateLimited(s.renter, wait);
    const data = encodeFunctionData({
      abi: rentalRelayAbi,
      functionName: "endSessionBySig",
      args: [id, b.deadline, b.signature as Hex],
    });
    const { hash } = await deps.queue.submit({ to: rental, data, abi: revertAbi });
    const receipt = await deps.queue.waitForReceipt(hash, deps.receiptTimeoutMs);
    if (receipt.status !== "success") {
      throw new RelayerError(502, "transaction_reverted", `endSessionBySig reverted (${hash}).`, {
        details: { transaction: hash },
      });
    }
    const [ev] = parseEventLogs({ abi: rentalRelayAbi, eventName: "SessionEnded", logs: receipt.logs });
    if (!ev) throw new RelayerError(502, "event_missing", `No SessionEnded in ${hash}.`);
    deps.log.info({ sessionId: id.toString(), tx: hash, refund: ev.args.refund.toString() }, "gasless session ended");
    return c.json({
      sessionId: id.toString(),
      renter: ev.args.renter,
      provider: ev.args.provider,
      endedBy: ev.args.endedBy,
      token: ev.args.token,
      usedSeconds: ev.args.usedSeconds.toString(),
      refund: ev.args.refund.toString(),
      providerPayout: ev.args.providerPayout.toString(),
      fee: ev.args.fee.toString(),
      transaction: hash,
    });
  });

  return app;
}

function jsonSafe(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === "bigint" ? x.toString() : x]));
}
