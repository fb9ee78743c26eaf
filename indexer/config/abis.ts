// TEMPORARY until sdk/src/abis lands: untyped ABIs from forge's out/.
import registry from "../../out/ComputeRegistry.sol/ComputeRegistry.json" with { type: "json" };
import rental from "../../out/ComputeRental.sol/ComputeRental.json" with { type: "json" };
import type { Abi } from "viem";
export const computeRegistryAbi = registry.abi as Abi;
export const computeRentalAbi = rental.abi as Abi;
