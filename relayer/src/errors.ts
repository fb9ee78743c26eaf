/**
 * Relayer errors: one class with a stable `code`, an HTTP status and whether retrying can help. Mapped to
 * JSON once, in `app.onError`.
 */
export class RelayerError extends Error {
  override readonly name = "RelayerError";
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  toJSON(): { error: { message: string; type: string; code: string; param: null; details?: Record<string, unknown> } } {
    return {
      error: {
        message: this.message,
        type: this.status >= 500 ? "server_error" : "invalid_request_error",
        code: this.code,
        param: null,
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new RelayerError(400, code, message, { details });

export const rateLimited = (key: string, retryAfterMs: number) =>
  new RelayerError(429, "rate_limited", `Too many requests for ${key}; retry in ${Math.ceil(retryAfterMs / 1000)} s.`, {
    retryable: true,
    details: { retryAfterMs },
  });

/** A transaction that would revert: refused before any gas is spent. */
export class SimulationError extends RelayerError {
  constructor(reason: string, cause?: unknown) {
    super(422, "simulation_failed", `Transaction would revert: ${reason}`, { details: { reason }, cause });
  }
}
