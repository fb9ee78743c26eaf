// @jeju/compute-sdk — the package entry: ComputeClient, its errors and types, plus the building blocks
// (generated ABIs, deployments reader, provider registration, x402 helpers). Subpaths stay importable
// (`@jeju/compute-sdk/x402`, `@jeju/compute-sdk/indexer`, …).

export {
  computeRegistryAbi,
  computeRentalAbi,
  localUsdcAbi,
} from "./abis/index.ts";
export {
  type RegisterProviderParameters,
  type RegisterProviderReturnType,
  registerProvider,
} from "./actions/registerProvider.ts";
export * from "./client/index.ts";
export { type Deployments, readDeployments } from "./deployments.ts";
export {
  createV1PaymentHeader,
  type EndSessionRequest,
  type GaslessSessionRequest,
  sessionAuthorizationNonce,
  signEndSession,
  signGaslessSession,
} from "./x402/index.ts";
