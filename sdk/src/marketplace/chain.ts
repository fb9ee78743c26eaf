/**
 * Fallback for single-provider reads when the indexer is down: the registry's views. The chain keeps only the
 * attestation's hash, so `attestation` is empty (and the provider reads as not TEE-verified) on this path.
 */
import { computeRegistryAbi } from "../abis/index.ts";
import { teeTypeFromIndex } from "../indexer/tee.ts";
import type { Provider } from "../indexer/types.ts";
import { type Address, getAddress, type PublicClient, zeroAddress } from "viem";

export type ChainSource = {
  client: PublicClient;
  /** ComputeRegistry address. */
  registry: Address;
  /** Payment tokens whose hourly price to read besides the native one (USDC). */
  tokens?: Address[];
};

/** The provider as the registry has it now, or undefined when it never registered. */
export async function readProviderFromChain(chain: ChainSource, address: Address): Promise<Provider | undefined> {
  const base = { address: chain.registry, abi: computeRegistryAbi } as const;
  const [info, hardware, models] = await Promise.all([
    chain.client.readContract({ ...base, functionName: "getProvider", args: [address] }),
    chain.client.readContract({ ...base, functionName: "getHardware", args: [address] }),
    chain.client.readContract({ ...base, functionName: "getModels", args: [address] }),
  ]);
  if (!info.registered) return undefined;
  const tokens = [zeroAddress, ...(chain.tokens ?? []).filter((t) => t !== zeroAddress)];
  const prices = await Promise.all(
    tokens.map((token) => chain.client.readContract({ ...base, functionName: "priceOf", args: [address, token] })),
  );
  const id = address.toLowerCase() as `0x${string}`;
  return {
    id,
    address: getAddress(address),
    endpoint: info.endpoint,
    attestation: "",
    attestationHash: info.attestationHash,
    stake: info.stake,
    pendingUnstake: info.pendingUnstake,
    unstakeUnlockTime: BigInt(info.unstakeUnlockTime),
    pricePerHour: info.pricePerHour,
    active: info.active,
    lastHeartbeat: BigInt(info.lastHeartbeat),
    hardware: {
      gpuModel: hardware.gpuModel,
      gpuCount: hardware.gpuCount,
      vramGb: hardware.vramGb,
      cpuCores: hardware.cpuCores,
      memoryGb: hardware.memoryGb,
      storageGb: hardware.storageGb,
      teeType: teeTypeFromIndex(hardware.teeType),
    },
    maxConcurrentRentals: info.maxConcurrentRentals,
    activeRentals: info.activeRentals,
    gpusInUse: info.gpusInUse,
    gpusAvailable: Math.max(0, hardware.gpuCount - info.gpusInUse),
    totalSessions: 0,
    strikes: info.strikes,
    totalSlashed: 0n,
    registeredAt: 0n,
    registeredBlock: 0n,
    updatedAt: 0n,
    models: models.map((m) => ({
      name: m.name,
      inputPricePerToken: m.inputPricePerToken,
      outputPricePerToken: m.outputPricePerToken,
    })),
    tokenPrices: tokens
      .map((token, i) => ({ token: token.toLowerCase() as `0x${string}`, pricePerHour: prices[i] ?? 0n }))
      .filter((t) => t.pricePerHour > 0n),
  };
}
