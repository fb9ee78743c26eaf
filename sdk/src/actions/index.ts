export {
  type ProviderHardware,
  type ProviderModelPrice,
  type RegisterProviderErrorType,
  type RegisterProviderParameters,
  type RegisterProviderReturnType,
  registerProvider,
} from "./registerProvider.ts";
