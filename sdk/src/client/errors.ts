/**
 * Errors thrown by {@link ComputeClient}: one tree under {@link ComputeError}, each with a stable `code`.
 *
 * - {@link ComputeContractError}: a contract call reverted with a custom error of ComputeRental, ComputeRegistry
 *   or the payment token, decoded by name (`errorName`, `args`), e.g. `InsufficientGpus`, `SshKeyEmpty`.
 * - {@link ComputeApiError}: a node or relayer answered with an HTTP error (`status`, `code`, `message`).
 * - {@link ComputeSessionError}: the session ended up rejected/cancelled/ended instead of active.
 * - {@link ComputeTimeoutError}: the session did not become active in time.
 */
import { type Abi, BaseError, ContractFunctionRevertedError, decodeErrorResult, type Hex } from "viem";
import { computeRegistryAbi, computeRentalAbi, localUsdcAbi } from "../abis/index.ts";

/** Every custom error the rental flow can revert with (the rental calls into the registry and the token). */
export const computeErrorsAbi: Abi = [...computeRentalAbi, ...computeRegistryAbi, ...localUsdcAbi].filter(
  (item) => item.type === "error",
);

export class ComputeError extends Error {
  override name = "ComputeError";
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A contract call reverted; `errorName`/`args` come from the contracts' custom errors. */
export class ComputeContractError extends ComputeError {
  override name = "ComputeContractError";
  readonly errorName: string;
  readonly args: readonly unknown[];
  constructor(errorName: string, args: readonly unknown[], options?: { cause?: unknown; functionName?: string }) {
    const where = options?.functionName ? `${options.functionName} reverted: ` : "";
    super("contract_revert", `${where}${errorName}(${args.map(formatArg).join(", ")})`, options);
    this.errorName = errorName;
    this.args = args;
  }
}

/** A node or relayer HTTP error (`{"error": {message, type, code}}` bodies are unpacked). */
export class ComputeApiError extends ComputeError {
  override name = "ComputeApiError";
  readonly status: number;
  readonly type: string | undefined;
  readonly details: unknown;
  constructor(p: {
    status: number;
    code: string;
    message: string;
    type?: string;
    details?: unknown;
    url?: string;
  }) {
    super(p.code, p.message);
    this.status = p.status;
    this.type = p.type;
    this.details = p.details;
  }
}

/** The session reached a terminal state other than active (e.g. the provider rejected it and refunded). */
export class ComputeSessionError extends ComputeError {
  override name = "ComputeSessionError";
  readonly sessionId: string;
  readonly status: string;
  constructor(sessionId: string, status: string, message: string) {
    super(`session_${status}`, message);
    this.sessionId = sessionId;
    this.status = status;
  }
}

export class ComputeTimeoutError extends ComputeError {
  override name = "ComputeTimeoutError";
  constructor(message: string) {
    super("timeout", message);
  }
}

function formatArg(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return v;
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
}

/**
 * Turns a viem error into a {@link ComputeContractError} when it carries a revert with a known custom error
 * (decoded by viem, or raw revert data decoded here against {@link computeErrorsAbi}); anything else is returned
 * unchanged.
 */
export function decodeComputeError(err: unknown, functionName?: string): unknown {
  if (!(err instanceof BaseError)) return err;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    if (reverted.data?.errorName) {
      return new ComputeContractError(reverted.data.errorName, reverted.data.args ?? [], { cause: err, functionName });
    }
    if (reverted.raw) {
      const decoded = tryDecode(reverted.raw);
      if (decoded)
        return new ComputeContractError(decoded.errorName, decoded.args, {
          cause: err,
          functionName,
        });
    }
    if (reverted.reason)
      return new ComputeContractError("Error", [reverted.reason], {
        cause: err,
        functionName,
      });
  }
  // Errors raised outside viem's contract helpers (e.g. estimateGas on a raw transaction): look for revert data.
  let data: Hex | undefined;
  err.walk((e) => {
    const d = (e as { data?: unknown }).data;
    if (typeof d === "string" && /^0x[0-9a-fA-F]{8,}$/.test(d)) {
      data = d as Hex;
      return true;
    }
    return false;
  });
  if (data) {
    const decoded = tryDecode(data);
    if (decoded)
      return new ComputeContractError(decoded.errorName, decoded.args, {
        cause: err,
        functionName,
      });
  }
  return err;
}

function tryDecode(data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  try {
    const d = decodeErrorResult({ abi: computeErrorsAbi, data });
    return { errorName: d.errorName, args: d.args ?? [] };
  } catch {
    return undefined;
  }
}

/** Builds a {@link ComputeApiError} from a fetch Response (OpenAI-shaped or relayer error bodies). */
export async function apiErrorFromResponse(res: Response, what: string): Promise<ComputeApiError> {
  let body: unknown;
  const text = await res.text().catch(() => "");
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const e = (body as { error?: unknown } | undefined)?.error;
  if (e && typeof e === "object") {
    const o = e as {
      message?: unknown;
      code?: unknown;
      type?: unknown;
      details?: unknown;
    };
    return new ComputeApiError({
      status: res.status,
      code: typeof o.code === "string" ? o.code : `http_${res.status}`,
      type: typeof o.type === "string" ? o.type : undefined,
      message: `${what}: ${typeof o.message === "string" ? o.message : res.statusText} (HTTP ${res.status})`,
      details: o.details,
    });
  }
  if (typeof e === "string") {
    return new ComputeApiError({
      status: res.status,
      code: `http_${res.status}`,
      message: `${what}: ${e} (HTTP ${res.status})`,
    });
  }
  const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new ComputeApiError({
    status: res.status,
    code: `http_${res.status}`,
    message: `${what}: HTTP ${res.status} ${res.statusText}${snippet ? ` — ${snippet}` : ""}`,
  });
}
