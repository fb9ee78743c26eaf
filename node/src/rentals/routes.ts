/**
 * The sessions API (`/v1/sessions`), mounted by the chain services:
 *
 *   POST   /                      without a payment: 402 with the exact cost and how to pay (on-chain call or
 *                                 gasless authorization); with one: forwarded to the relayer's POST /v1/sessions
 *   GET    /:id                   the on-chain session + refundable now + `ssh` when active here
 *   DELETE /:id                   {deadline, signature} (EIP-712 EndSession) → relayer → {id, status, refund, txHash}
 *   POST   /:id/containers        the docs' body {image, command, gpus, volumes, ports, env?}   (renter-signed)
 *   GET    /:id/containers        list                                                          (renter-signed)
 *   GET    /:id/containers/:cid/logs                                                            (renter-signed)
 *   DELETE /:id/containers/:cid   stop and remove                                               (renter-signed)
 *
 * Renter requests carry `X-Compute-Signature: <expires>.<signature>` over sessionRequestMessage()
 * (sdk/src/sessions/auth.ts). Integers of uint256 width are decimal strings; times are unix seconds or null.
 */
import { computeRentalAbi } from "@jeju/compute-sdk/abis/index";
import { OpenAIError } from "@jeju/compute-sdk/openai/index";
import {
  parseSessionSignatureHeader,
  SESSION_SIGNATURE_HEADER,
  sessionRequestMessage,
} from "@jeju/compute-sdk/sessions/auth";
import { type Context, Hono } from "hono";
import { type Address, getAddress, isAddress, isAddressEqual, recoverMessageAddress, zeroAddress } from "viem";
import { z } from "zod";
import type { ChainContext } from "../chain/context.ts";
import type { Logger } from "../logger.ts";
import { InvalidSshKeyError, parseSshPublicKey } from "@jeju/compute-sdk/ssh/keys";
import { SessionNotRunningError } from "./errors.ts";
import type { RentalManager } from "./manager.ts";
import { CHAIN_STATUS_NAMES, ChainSessionStatus } from "./watcher.ts";

export type SessionsRouteDeps = {
  ctx: ChainContext;
  relayerUrl: string;
  ssh: { host: string; port: number };
  /** Undefined when rentals are off on this node (no containers API, no ssh info). */
  rentals?: RentalManager;
  log: Logger;
  fetch?: typeof fetch;
};

const err = (status: number, code: string, message: string, param: string | null = null) =>
  new OpenAIError(status, message, {
    code,
    param,
    type: status >= 500 ? "server_error" : "invalid_request_error",
  });

const uintLike = z
  .union([z.number().int().min(0), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().min(0));

const providerId = z
  .string()
  .transform((s) => s.trim().replace(/^provider-/i, ""))
  .refine((s) => isAddress(s, { strict: false }), "must be `provider-0x…` or a 0x address")
  .transform((s) => getAddress(s));

const createSchema = z.object({
  providerId,
  durationHours: uintLike.pipe(z.number().int().min(1)),
  sshPublicKey: z.string().min(1),
  gpuCount: uintLike.default(0),
  paymentToken: z.string().optional(),
});

const endSchema = z.object({
  deadline: z.union([z.number().int().min(0), z.string().regex(/^\d+$/)]).optional(),
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]+$/)
    .optional(),
});

const containerSchema = z.object({
  image: z.string().min(1),
  command: z.union([z.array(z.string()), z.string().transform((s) => ["/bin/sh", "-c", s])]).optional(),
  gpus: z.union([z.literal("all"), z.number().int().min(0)]).optional(),
  volumes: z.array(z.string()).optional(),
  ports: z.record(z.string(), z.number().int().min(0).max(65535)).optional(),
  env: z.record(z.string(), z.string()).optional(),
});

async function readJson(c: Context, allowEmpty = false): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") {
    if (allowEmpty) return {};
    throw err(400, "invalid_json", "Request body is empty; expected JSON.");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw err(400, "invalid_json", "Request body is not valid JSON.");
  }
}

function parse<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path.join(".") ?? "";
    throw err(400, "invalid_request", `Invalid '${field}': ${issue?.message ?? "invalid"}`, field || null);
  }
  return r.data;
}

function sessionIdParam(raw: string): bigint {
  if (!/^\d{1,78}$/.test(raw))
    throw err(400, "invalid_session_id", `Session id must be a decimal integer, got '${raw}'.`, "id");
  return BigInt(raw);
}

const times = (t: bigint) => (t === 0n ? null : Number(t));

export function sessionsRoute(deps: SessionsRouteDeps): Hono {
  const app = new Hono();
  const { ctx } = deps;
  const pc = ctx.publicClient;
  const rental = ctx.deployments.ComputeRental;
  const usdc = ctx.deployments.USDC;
  const doFetch = deps.fetch ?? fetch;

  const tokenInfo = (t: Address) =>
    isAddressEqual(t, zeroAddress) ? { symbol: "ETH", decimals: 18 } : { symbol: "USDC", decimals: 6 };

  function resolveToken(raw: string | undefined): Address {
    if (raw === undefined || raw === "" || /^eth$/i.test(raw)) return zeroAddress;
    if (/^usdc$/i.test(raw)) return usdc;
    if (!isAddress(raw, { strict: false })) {
      throw err(400, "invalid_request", "Invalid 'paymentToken': an address, 'ETH' or 'USDC'.", "paymentToken");
    }
    const a = getAddress(raw);
    if (!isAddressEqual(a, zeroAddress) && !isAddressEqual(a, usdc)) {
      throw err(400, "unsupported_token", `Payment token ${a} is not accepted (ETH or USDC ${usdc}).`, "paymentToken");
    }
    return a;
  }

  const quote = (provider: Address, token: Address, gpuCount: number, hours: number) =>
    pc.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "quote",
      args: [provider, token, BigInt(gpuCount), BigInt(hours)],
    });

  async function readSession(id: bigint) {
    const s = await pc.readContract({
      address: rental,
      abi: computeRentalAbi,
      functionName: "getSession",
      args: [id],
    });
    if (s.status === ChainSessionStatus.None)
      throw err(404, "session_not_found", `Session ${id} does not exist.`, "id");
    return s;
  }

  // ---------------------------------------------------------------------------------------------------------
  app.post("/", async (c) => {
    const raw = await readJson(c);
    const b = parse(createSchema, raw);
    try {
      parseSshPublicKey(b.sshPublicKey);
    } catch (e) {
      if (e instanceof InvalidSshKeyError)
        throw err(400, "invalid_ssh_key", `Invalid 'sshPublicKey': ${e.message}`, "sshPublicKey");
      throw e;
    }
    const token = resolveToken(b.paymentToken);
    const header = c.req.header("PAYMENT-SIGNATURE") ?? c.req.header("X-Payment");
    const body = raw as Record<string, unknown>;
    const paid = header !== undefined || body.authorization !== undefined || body.payment !== undefined;

    if (paid) {
      // Gasless: the relayer checks the authorization against the terms and sends the transaction.
      const forward: Record<string, unknown> = {
        ...body,
        provider: body.provider ?? b.providerId,
        durationHours: String(b.durationHours),
        gpuCount: String(b.gpuCount),
      };
      if (forward.payment === undefined && body.authorization !== undefined) {
        forward.payment = {
          authorization: body.authorization,
          signature: body.signature,
        };
      }
      if (forward.payment === undefined && header !== undefined) {
        try {
          const decoded = JSON.parse(Buffer.from(header, "base64").toString("utf8")) as Record<string, unknown>;
          forward.payment = decoded.payload ?? decoded;
        } catch {
          throw err(400, "invalid_payment", "The payment header is not base64 JSON.");
        }
      }
      delete forward.providerId;
      delete forward.paymentToken;
      delete forward.authorization;
      delete forward.signature;
      const res = await doFetch(`${deps.relayerUrl}/v1/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(forward),
      }).catch((e: unknown) => {
        throw err(
          502,
          "relayer_unreachable",
          `The relayer at ${deps.relayerUrl} did not answer: ${(e as Error).message}`,
        );
      });
      const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.ok && typeof answer.sessionId === "string") answer.id = answer.sessionId;
      return c.json(answer, res.status as 201);
    }

    const cost = await quote(b.providerId, token, b.gpuCount, b.durationHours);
    if (cost === 0n) {
      throw err(
        400,
        "provider_not_priced",
        `Provider ${b.providerId} has no price in ${tokenInfo(token).symbol} (not registered, or that token is not accepted).`,
        "providerId",
      );
    }
    const units = BigInt(Math.max(1, b.gpuCount));
    const ratePerHour = cost / (units * BigInt(b.durationHours));
    const args = [b.providerId, String(b.durationHours), b.sshPublicKey, String(b.gpuCount), token];
    const isEth = isAddressEqual(token, zeroAddress);
    let gasless: Record<string, unknown> | null = null;
    if (usdc !== zeroAddress) {
      const usdcCost = isEth ? await quote(b.providerId, usdc, b.gpuCount, b.durationHours) : cost;
      if (usdcCost > 0n) {
        gasless = {
          relayer: deps.relayerUrl,
          endpoint: `${deps.relayerUrl}/v1/sessions`,
          token: usdc,
          to: rental,
          value: usdcCost.toString(),
          nonce: "sessionAuthorizationNonce(provider, durationHours, sshPublicKey, gpuCount, salt)",
          primaryType: "ReceiveWithAuthorization",
        };
      }
    }
    const { symbol, decimals } = tokenInfo(token);
    return c.json(
      {
        error: {
          message: `Creating this session costs ${cost} (${symbol} base units). Pay on-chain with createSession, or sign a gasless authorization and send it again.`,
          type: "invalid_request_error",
          param: null,
          code: "payment_required",
        },
        payment: {
          cost: cost.toString(),
          token,
          symbol,
          decimals,
          ratePerHour: ratePerHour.toString(),
          provider: b.providerId,
          durationHours: b.durationHours,
          gpuCount: b.gpuCount,
          chainId: ctx.deployments.chainId,
          onchain: {
            to: rental,
            function: "createSession(address,uint256,string,uint256,address)",
            args,
            ...(isEth
              ? { value: cost.toString() }
              : {
                  approve: { token, spender: rental, amount: cost.toString() },
                }),
          },
          gasless,
        },
      },
      402,
    );
  });

  // ---------------------------------------------------------------------------------------------------------
  app.get("/:id{[0-9]+}", async (c) => {
    const id = sessionIdParam(c.req.param("id"));
    const s = await readSession(id);
    let used = 0n;
    let usedSeconds = 0n;
    let refundableNow = 0n;
    if (s.status === ChainSessionStatus.Pending || s.status === ChainSessionStatus.Active) {
      const [us, refund] = await pc.readContract({
        address: rental,
        abi: computeRentalAbi,
        functionName: "previewSettlement",
        args: [id],
      });
      usedSeconds = us;
      refundableNow = refund;
      used = s.prepaid - refund;
    }
    const local = deps.rentals?.store.get(id);
    const here = ctx.provider !== undefined && isAddressEqual(s.provider, ctx.provider);
    const ssh =
      s.status === ChainSessionStatus.Active && here && local?.status === "active"
        ? { host: deps.ssh.host, port: deps.ssh.port, username: local.username }
        : null;
    return c.json({
      id: id.toString(),
      status: CHAIN_STATUS_NAMES[s.status] ?? "unknown",
      renter: s.renter,
      provider: s.provider,
      providerId: `provider-${s.provider}`,
      token: s.token,
      gpuCount: s.gpuCount.toString(),
      durationHours: s.durationHours.toString(),
      ratePerHour: s.ratePerHour.toString(),
      prepaid: s.prepaid.toString(),
      used: used.toString(),
      usedSeconds: usedSeconds.toString(),
      refundableNow: refundableNow.toString(),
      createdAt: times(s.createdAt),
      activatedAt: times(s.startedAt),
      expiresAt: times(s.expiresAt),
      endedAt: times(s.endedAt),
      ssh,
      ...(local && here ? { node: { status: local.status, reason: local.reason } } : {}),
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  app.delete("/:id{[0-9]+}", async (c) => {
    const id = sessionIdParam(c.req.param("id"));
    const b = parse(endSchema, await readJson(c, true));
    if (b.signature === undefined || b.deadline === undefined) {
      const s = await readSession(id);
      const nonce = await pc.readContract({
        address: rental,
        abi: computeRentalAbi,
        functionName: "nonces",
        args: [s.renter],
      });
      const deadline = Math.floor(Date.now() / 1000) + 600;
      return c.json(
        {
          error: {
            message:
              "Ending a session needs the renter's EIP-712 EndSession signature ({deadline, signature}), or send endSession(uint256) on-chain yourself.",
            type: "invalid_request_error",
            param: "signature",
            code: "signature_required",
          },
          typedData: {
            domain: {
              name: "ComputeRental",
              version: "1",
              chainId: ctx.deployments.chainId,
              verifyingContract: rental,
            },
            types: {
              EndSession: [
                { name: "sessionId", type: "uint256" },
                { name: "nonce", type: "uint256" },
                { name: "deadline", type: "uint256" },
              ],
            },
            primaryType: "EndSession",
            message: {
              sessionId: id.toString(),
              nonce: nonce.toString(),
              deadline: String(deadline),
            },
          },
          onchain: {
            to: rental,
            function: "endSession(uint256)",
            args: [id.toString()],
            from: s.renter,
          },
        },
        400,
      );
    }
    const res = await doFetch(`${deps.relayerUrl}/v1/sessions/${id}`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        deadline: String(b.deadline),
        signature: b.signature,
      }),
    }).catch((e: unknown) => {
      throw err(
        502,
        "relayer_unreachable",
        `The relayer at ${deps.relayerUrl} did not answer: ${(e as Error).message}`,
      );
    });
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) return c.json(answer, res.status as 400);
    return c.json({
      id: id.toString(),
      status: "ended",
      refund: answer.refund,
      txHash: answer.transaction,
      usedSeconds: answer.usedSeconds,
      providerPayout: answer.providerPayout,
      fee: answer.fee,
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  // containers API (renter-signed)

  async function authorizeRenter(c: Context): Promise<{ id: bigint; manager: RentalManager }> {
    const id = sessionIdParam(c.req.param("id") ?? "");
    const header = c.req.header(SESSION_SIGNATURE_HEADER);
    if (header === undefined) {
      throw err(
        401,
        "signature_required",
        `Sign the request as the session's renter: ${SESSION_SIGNATURE_HEADER}: <expires>.<personal_sign of "Compute session <id>\\n<METHOD> <path>\\nexpires <expires>">.`,
      );
    }
    const parsed = parseSessionSignatureHeader(header);
    if (!parsed)
      throw err(401, "signature_required", `Malformed ${SESSION_SIGNATURE_HEADER}: expected <expires>.<0x signature>.`);
    const now = Math.floor(Date.now() / 1000);
    if (parsed.expires < now)
      throw err(401, "signature_expired", `The request signature expired at ${parsed.expires}.`);
    if (parsed.expires > now + 3600)
      throw err(401, "signature_expiry_too_far", "The request signature must expire within an hour.");
    const message = sessionRequestMessage({
      sessionId: id,
      method: c.req.method,
      path: c.req.path,
      expires: parsed.expires,
    });
    let signer: Address;
    try {
      signer = await recoverMessageAddress({
        message,
        signature: parsed.signature,
      });
    } catch {
      throw err(401, "invalid_signature", "The request signature could not be verified.");
    }
    const local = deps.rentals?.store.get(id);
    const renter = local?.renter ?? (await readSession(id)).renter;
    if (!isAddressEqual(signer, renter as Address)) {
      throw err(403, "not_session_renter", `Only the session's renter may do this (signed by ${signer}).`);
    }
    if (!deps.rentals) throw err(409, "rentals_disabled", "This node does not run rentals.");
    if (local?.status !== "active") throw new SessionNotRunningError(id.toString(), local?.status);
    return { id, manager: deps.rentals };
  }

  app.post("/:id{[0-9]+}/containers", async (c) => {
    const { id, manager } = await authorizeRenter(c);
    const b = parse(containerSchema, await readJson(c));
    const rec = manager.store.get(id);
    if (rec === undefined) throw new SessionNotRunningError(id.toString(), undefined);
    const info = await manager.containers.runContainer(id, b, {
      limits: manager.limitsFor(rec),
      gpus: rec.gpus,
    });
    return c.json(containerJson(info), 201);
  });

  app.get("/:id{[0-9]+}/containers", async (c) => {
    const { id, manager } = await authorizeRenter(c);
    const list = await manager.containers.listContainers(id);
    return c.json({ object: "list", data: list.map(containerJson) });
  });

  app.get("/:id{[0-9]+}/containers/:cid/logs", async (c) => {
    const { id, manager } = await authorizeRenter(c);
    const tail = Number(c.req.query("tail") ?? 1000);
    const text = await manager.containers.logs(id, c.req.param("cid"), {
      tail: Number.isFinite(tail) && tail > 0 ? tail : 1000,
    });
    return c.text(text);
  });

  app.delete("/:id{[0-9]+}/containers/:cid", async (c) => {
    const { id, manager } = await authorizeRenter(c);
    const cid = c.req.param("cid");
    const info = await manager.containers.getContainer(id, cid);
    await manager.containers.removeContainer(id, cid);
    return c.json({ id: info.id, deleted: true });
  });

  return app;
}

function containerJson(info: {
  id: string;
  image: string;
  state: string;
  status: string;
  running: boolean;
  createdAt: number;
  ports: {
    containerPort: number;
    protocol: string;
    hostIp: string;
    hostPort: number;
  }[];
}) {
  return {
    id: info.id,
    image: info.image,
    state: info.state,
    status: info.status,
    running: info.running,
    createdAt: info.createdAt,
    ports: info.ports,
  };
}
