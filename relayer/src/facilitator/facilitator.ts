/**
 * The relayer's x402 facilitator: `verify`, `settle` and `supported` for the `exact` scheme on one EVM chain,
 * accepting v2 and v1 requests. Verification and settlement are x402's own `ExactEvmScheme` (signature,
 * recipient, time window, amount, on-chain simulation); this class adds:
 *
 * - v1 → v2 normalization (v1 `maxAmountRequired` is a minimum: a v1 authorization may pay more);
 * - cheap structural checks first, with clear reasons (chain, asset, recipient, amount, time);
 * - a clear reason when simulation fails (balance, used nonce), read directly from the token;
 * - a per-payer rate limit;
 * - idempotent settlement: the first result for a payment (token, payer, nonce) is stored in SQLite and
 *   returned to every later or concurrent `settle` of the same payment;
 * - writes through the persisted, simulated, nonce-ordered {@link TxQueue}.
 */
import {
  caip2,
  chainIdOfNetwork,
  type ExactEvmPayload,
  exactEvmPayloadSchema,
  facilitatorRequestSchema,
  fromV1Requirements,
  v1NetworkName,
} from "@jeju/compute-sdk/x402/index";
import { x402Facilitator } from "@x402/core/facilitator";
import type { PaymentPayload, PaymentRequirements, SettleResponse, VerifyResponse } from "@x402/core/types";
import { eip3009ABI } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/facilitator";
import { getAddress, isAddressEqual, type PublicClient } from "viem";
import { facilitatorSigner } from "../chain/facilitatorSigner.ts";
import type { TxQueue } from "../chain/txQueue.ts";
import type { RelayerDb } from "../db.ts";
import type { RateLimiter } from "../http/rateLimit.ts";
import type { Logger } from "../logger.ts";
import { REASONS, reasonMessage } from "./reasons.ts";

export type FacilitatorOptions = {
  db: RelayerDb;
  queue: TxQueue;
  publicClient: PublicClient;
  chainId: number;
  /** Tokens this facilitator settles (USDC). */
  assets: readonly `0x${string}`[];
  log: Logger;
  rateLimiter?: RateLimiter;
  receiptTimeoutMs?: number;
};

type Normalized = {
  version: 1 | 2;
  payload: PaymentPayload;
  requirements: PaymentRequirements;
  exact: ExactEvmPayload;
  /** Network string to echo in responses (v1 keeps its own naming). */
  network: string;
  payer: `0x${string}`;
  key: string;
};

type Invalid = { invalid: VerifyResponse; network: string };

export class Facilitator {
  readonly #o: FacilitatorOptions;
  readonly #x402: x402Facilitator;
  readonly #inflight = new Map<string, Promise<SettleResponse>>();
  readonly #stmts;

  constructor(options: FacilitatorOptions) {
    this.#o = options;
    const signer = facilitatorSigner(options.queue, options.publicClient, options.receiptTimeoutMs);
    this.#x402 = new x402Facilitator().register(caip2(options.chainId), new ExactEvmScheme(signer));
    this.#stmts = {
      get: options.db.prepare<[string], { status: string; response: string | null }>(
        "SELECT status, response FROM settlements WHERE key = ?",
      ),
      put: options.db.prepare(
        `INSERT INTO settlements (key, payer, status, response, created_at, updated_at)
         VALUES (@key, @payer, @status, @response, @now, @now)
         ON CONFLICT(key) DO UPDATE SET status = excluded.status, response = excluded.response,
           updated_at = excluded.updated_at WHERE settlements.status <> 'success'`,
      ),
    };
  }

  /** `GET /supported`: v2 (CAIP-2) and v1 kinds for this chain, and the relayer's signer. */
  supported(): {
    kinds: { x402Version: number; scheme: string; network: string; extra?: Record<string, unknown> }[];
    extensions: string[];
    signers: Record<string, string[]>;
  } {
    const s = this.#x402.getSupported();
    const v1Names = [...new Set([v1NetworkName(this.#o.chainId), caip2(this.#o.chainId)])];
    return {
      kinds: [...s.kinds, ...v1Names.map((network) => ({ x402Version: 1, scheme: "exact", network }))],
      extensions: s.extensions,
      signers: s.signers,
    };
  }

  async verify(body: unknown): Promise<VerifyResponse> {
    const n = this.#normalize(body);
    if ("invalid" in n) return n.invalid;
    const limited = this.#limit(n.payer);
    if (limited) return limited;
    const res = await this.#x402.verify(n.payload, n.requirements);
    if (res.isValid) return { isValid: true, payer: n.payer };
    return this.#explain(n, res.invalidReason);
  }

  async settle(body: unknown): Promise<SettleResponse> {
    const n = this.#normalize(body);
    if ("invalid" in n) {
      return {
        success: false,
        errorReason: n.invalid.invalidReason,
        errorMessage: n.invalid.invalidMessage,
        payer: n.invalid.payer,
        transaction: "",
        network: n.network as SettleResponse["network"],
      };
    }
    const done = this.#stmts.get.get(n.key);
    if (done?.status === "success" && done.response) return JSON.parse(done.response) as SettleResponse;
    const running = this.#inflight.get(n.key);
    if (running) return running;
    const limited = this.#limit(n.payer);
    if (limited) return this.#failure(n, limited.invalidReason ?? REASONS.rateLimited);
    const p = this.#settle(n).finally(() => this.#inflight.delete(n.key));
    this.#inflight.set(n.key, p);
    return p;
  }

  async #settle(n: Normalized): Promise<SettleResponse> {
    let res: SettleResponse;
    try {
      res = await this.#x402.settle(n.payload, n.requirements);
    } catch (err) {
      this.#o.log.error({ err, key: n.key }, "settle threw");
      res = {
        success: false,
        errorReason: REASONS.unexpected,
        errorMessage: err instanceof Error ? err.message : String(err),
        transaction: "",
        network: n.payload.accepted.network,
        payer: n.payer,
      };
    }
    if (!res.success) {
      const explained = await this.#explain(n, res.errorReason);
      res = {
        ...res,
        errorReason: explained.invalidReason ?? res.errorReason,
        errorMessage: explained.invalidMessage ?? res.errorMessage,
      };
    }
    const out: SettleResponse = { ...res, payer: n.payer, network: n.network as SettleResponse["network"] };
    if (out.success) out.amount = n.exact.authorization.value;
    this.#stmts.put.run({
      key: n.key,
      payer: n.payer,
      status: out.success ? "success" : "failed",
      response: JSON.stringify(out),
      now: Date.now(),
    });
    this.#o.log.info({ key: n.key, success: out.success, tx: out.transaction, reason: out.errorReason }, "x402 settle");
    return out;
  }

  #failure(n: Normalized, reason: string): SettleResponse {
    return {
      success: false,
      errorReason: reason,
      errorMessage: reasonMessage(reason),
      payer: n.payer,
      transaction: "",
      network: n.network as SettleResponse["network"],
    };
  }

  #limit(payer: string): VerifyResponse | undefined {
    const wait = this.#o.rateLimiter?.take(payer) ?? 0;
    if (wait === 0) return undefined;
    return {
      isValid: false,
      invalidReason: REASONS.rateLimited,
      invalidMessage: `${reasonMessage(REASONS.rateLimited)} Retry in ${wait} ms.`,
      payer,
    };
  }

  /** Parse either generation into v2 payload + requirements, with the structural checks. */
  #normalize(body: unknown): Normalized | Invalid {
    const parsed = facilitatorRequestSchema.safeParse(body);
    if (!parsed.success) {
      return this.#invalid(REASONS.invalidPayload, "", undefined, parsed.error.issues[0]?.message);
    }
    const req = parsed.data;
    const exactParsed = exactEvmPayloadSchema.safeParse(req.paymentPayload.payload);
    const network = req.paymentRequirements.network;
    if (!exactParsed.success) {
      return this.#invalid(REASONS.invalidPayload, network, undefined, exactParsed.error.issues[0]?.message);
    }
    const exact = exactParsed.data;
    const payer = getAddress(exact.authorization.from);
    let version: 1 | 2;
    let requirements: PaymentRequirements;
    let accepted: PaymentRequirements;
    if (req.paymentPayload.x402Version === 1) {
      version = 1;
      requirements = fromV1Requirements(req.paymentRequirements as Parameters<typeof fromV1Requirements>[0]);
      const payChain = chainIdOfNetwork(req.paymentPayload.network);
      accepted = {
        ...requirements,
        scheme: req.paymentPayload.scheme,
        network:
          payChain === undefined ? (req.paymentPayload.network as PaymentRequirements["network"]) : caip2(payChain),
      };
    } else {
      version = 2;
      requirements = req.paymentRequirements as PaymentRequirements;
      accepted = req.paymentPayload.accepted as PaymentRequirements;
    }
    const chainId = this.#o.chainId;
    if (requirements.scheme !== "exact" || accepted.scheme !== "exact") {
      return this.#invalid(REASONS.scheme, network, payer);
    }
    if (chainIdOfNetwork(requirements.network) !== chainId || chainIdOfNetwork(accepted.network) !== chainId) {
      return this.#invalid(REASONS.network, network, payer);
    }
    const assetOk = (a: string) =>
      /^0x[0-9a-fA-F]{40}$/.test(a) && this.#o.assets.some((x) => isAddressEqual(x, a as `0x${string}`));
    if (!assetOk(requirements.asset) || (version === 2 && !assetOk(accepted.asset))) {
      return this.#invalid(REASONS.asset, network, payer);
    }
    if (
      !/^0x[0-9a-fA-F]{40}$/.test(requirements.payTo) ||
      !isAddressEqual(exact.authorization.to as `0x${string}`, requirements.payTo as `0x${string}`)
    ) {
      return this.#invalid(REASONS.recipient, network, payer);
    }
    const value = BigInt(exact.authorization.value);
    const required = BigInt(requirements.amount);
    if (value < required) return this.#invalid(REASONS.underpaid, network, payer);
    if (version === 2 && value !== required) return this.#invalid(REASONS.valueMismatch, network, payer);
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (BigInt(exact.authorization.validBefore) < now + 6n) return this.#invalid(REASONS.expired, network, payer);
    if (BigInt(exact.authorization.validAfter) > now) return this.#invalid(REASONS.notYetValid, network, payer);
    // v1 pays "at least" the amount: settle exactly what was signed.
    const settledRequirements: PaymentRequirements = {
      ...requirements,
      amount: value.toString(),
      asset: getAddress(requirements.asset),
    };
    const payload: PaymentPayload = {
      x402Version: 2,
      accepted: { ...accepted, amount: value.toString(), asset: getAddress(accepted.asset) },
      payload: exact,
      ...(version === 2 && req.paymentPayload.x402Version === 2 && req.paymentPayload.resource
        ? { resource: req.paymentPayload.resource }
        : {}),
    };
    const key = `${chainId}:${requirements.asset.toLowerCase()}:${payer.toLowerCase()}:${exact.authorization.nonce.toLowerCase()}`;
    return { version, payload, requirements: settledRequirements, exact, network, payer, key };
  }

  #invalid(reason: string, network: string, payer: string | undefined, detail?: string): Invalid {
    return {
      invalid: {
        isValid: false,
        invalidReason: reason,
        invalidMessage: detail ? `${reasonMessage(reason)} (${detail})` : reasonMessage(reason),
        ...(payer ? { payer } : {}),
      },
      network,
    };
  }

  /** Turn a generic failure into the precise reason (balance, used nonce) by reading the token. */
  async #explain(n: Normalized, reason: string | undefined): Promise<VerifyResponse> {
    const generic =
      reason === undefined ||
      reason === REASONS.simulation ||
      reason === REASONS.transactionFailed ||
      reason === REASONS.unexpected ||
      reason.startsWith("invalid_exact_evm_transaction");
    if (generic) {
      try {
        const token = getAddress(n.requirements.asset);
        const a = n.exact.authorization;
        const [used, balance] = await Promise.all([
          this.#o.publicClient.readContract({
            address: token,
            abi: eip3009ABI,
            functionName: "authorizationState",
            args: [getAddress(a.from), a.nonce as `0x${string}`],
          }),
          this.#o.publicClient.readContract({
            address: token,
            abi: eip3009ABI,
            functionName: "balanceOf",
            args: [getAddress(a.from)],
          }),
        ]);
        if (used === true) reason = REASONS.nonceUsed;
        else if ((balance as bigint) < BigInt(a.value)) reason = REASONS.insufficientBalance;
      } catch (err) {
        this.#o.log.debug({ err }, "could not diagnose a failed payment");
      }
    }
    return { isValid: false, invalidReason: reason, invalidMessage: reasonMessage(reason), payer: n.payer };
  }
}
