/**
 * HTTP client for an x402 facilitator (the relayer): `POST /verify`, `POST /settle` with
 * `{x402Version: 2, paymentPayload, paymentRequirements}`.
 */
import type { PaymentPayload, PaymentRequirements, SettleResponse, VerifyResponse } from "@x402/core/types";

export interface FacilitatorClient {
  verify(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse>;
  settle(payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse>;
}

/** The facilitator could not be reached or answered garbage: retryable. */
export class FacilitatorUnavailableError extends Error {
  override readonly name = "FacilitatorUnavailableError";
  readonly code = "facilitator_unavailable";
}

export class HttpFacilitatorClient implements FacilitatorClient {
  readonly #url: string;
  readonly #timeoutMs: number;

  constructor(url: string, timeoutMs = 60_000) {
    this.#url = url.replace(/\/+$/, "");
    this.#timeoutMs = timeoutMs;
  }

  verify(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse> {
    return this.#post<VerifyResponse>("verify", payload, requirements);
  }

  settle(payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse> {
    return this.#post<SettleResponse>("settle", payload, requirements);
  }

  async #post<T>(path: string, paymentPayload: PaymentPayload, paymentRequirements: PaymentRequirements): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#url}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ x402Version: paymentPayload.x402Version, paymentPayload, paymentRequirements }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new FacilitatorUnavailableError(`facilitator ${path} unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const text = await res.text();
    if (!res.ok)
      throw new FacilitatorUnavailableError(`facilitator ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new FacilitatorUnavailableError(`facilitator ${path} answered non-JSON`, { cause: err });
    }
  }
}
