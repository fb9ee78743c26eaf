export {
  attestationView,
  parseAttestation,
  providerView,
  tokenBook,
  type TokenBook,
  type TokenInfo,
} from "./format.ts";
export { parseProviderId, providerNotFoundError, providersRoutes, type ProvidersRoutesOptions } from "./routes.ts";
export { type ChainSource, readProviderFromChain } from "./chain.ts";
export { type MarketplaceConfig, marketplaceOptions } from "./options.ts";
