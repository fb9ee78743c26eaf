export {
  type X402PaymentsMiddleware,
  type X402PaymentsOptions,
  type TokenCounter,
  x402Payments,
} from "./middleware.ts";
export { type PaymentRecord, type SettlementStatus, type SpentNonceStore, SqliteSpentNonceStore } from "./store.ts";
export { type FacilitatorClient, FacilitatorUnavailableError, HttpFacilitatorClient } from "./facilitator.ts";
export type { ModelPrice } from "@jeju/compute-sdk/x402/index";
