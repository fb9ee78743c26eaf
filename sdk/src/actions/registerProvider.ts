/**
 * registerProvider: registers the wallet's account as a provider (stake, endpoint, attestation, native price)
 * and sets hardware, models with per-token prices, per-token hourly prices and the rental limit, one
 * transaction each, waiting for every receipt. Idempotent: an account already registered is not registered
 * again; its endpoint and attestation are updated when they differ, everything else is (re)set.
 */
import {
  type Account,
  type Address,
  type Chain,
  type Hash,
  keccak256,
  publicActions,
  toBytes,
  type Transport,
  type WalletClient,
} from "viem";
import { computeRegistryAbi } from "../abis/index.ts";
import { TEE_TYPES, type TeeType } from "../indexer/types.ts";

export type ProviderHardware = {
  /** e.g. "NVIDIA H100 80GB HBM3"; empty for CPU-only machines. */
  gpuModel: string;
  gpuCount: number;
  /** Per GPU. */
  vramGb: number;
  cpuCores: number;
  memoryGb: number;
  storageGb: number;
  teeType?: TeeType;
};

export type ProviderModelPrice = {
  name: string;
  /** Smallest units of the payment token (USDC: 1e-6) per prompt token. */
  inputPricePerToken: bigint;
  outputPricePerToken: bigint;
};

export type RegisterProviderParameters = {
  walletClient: WalletClient<Transport, Chain | undefined, Account>;
  /** ComputeRegistry address. */
  registry: Address;
  endpoint: string;
  /** TEE attestation data (stored on-chain as its hash; the data itself is in the event). */
  attestation?: string;
  /** Native price, wei per GPU-hour. */
  pricePerHour: bigint;
  /** Stake in wei sent with `register` (at least the registry's minStake, 0.1 ether). */
  stake: bigint;
  hardware?: ProviderHardware;
  models?: ProviderModelPrice[];
  /** Hourly prices per GPU in ERC-20 payment tokens (e.g. USDC, 6 decimals). */
  tokenPrices?: { token: Address; pricePerHour: bigint }[];
  /** Limit on open rentals (0 = none). */
  maxConcurrentRentals?: number;
};

export type RegisterProviderReturnType = {
  provider: Address;
  /** Whether `register` was sent (false when the account was registered already). */
  registered: boolean;
  /** Every transaction sent, in order. */
  transactions: { action: string; hash: Hash }[];
};

export type RegisterProviderErrorType = Error;

export async function registerProvider(params: RegisterProviderParameters): Promise<RegisterProviderReturnType> {
  const { walletClient, registry } = params;
  const client = walletClient.extend(publicActions);
  const account = walletClient.account;
  const transactions: { action: string; hash: Hash }[] = [];

  async function write(action: string, send: () => Promise<Hash>): Promise<void> {
    const hash = await send();
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`registerProvider: ${action} reverted (tx ${hash})`);
    transactions.push({ action, hash });
  }
  const base = { address: registry, abi: computeRegistryAbi, account, chain: walletClient.chain } as const;

  const current = await client.readContract({
    address: registry,
    abi: computeRegistryAbi,
    functionName: "getProvider",
    args: [account.address],
  });
  const attestation = params.attestation ?? "";
  if (!current.registered) {
    await write("register", () =>
      client.writeContract({
        ...base,
        functionName: "register",
        args: [params.endpoint, attestation, params.pricePerHour],
        value: params.stake,
      }),
    );
  } else {
    if (current.endpoint !== params.endpoint) {
      await write("updateEndpoint", () =>
        client.writeContract({ ...base, functionName: "updateEndpoint", args: [params.endpoint] }),
      );
    }
    if (current.attestationHash !== keccak256(toBytes(attestation))) {
      await write("updateAttestation", () =>
        client.writeContract({ ...base, functionName: "updateAttestation", args: [attestation] }),
      );
    }
    if (current.pricePerHour !== params.pricePerHour) {
      await write("setTokenPrice", () =>
        client.writeContract({
          ...base,
          functionName: "setTokenPrice",
          args: ["0x0000000000000000000000000000000000000000", params.pricePerHour],
        }),
      );
    }
  }
  if (params.hardware !== undefined) {
    const h = params.hardware;
    await write("setHardware", () =>
      client.writeContract({
        ...base,
        functionName: "setHardware",
        args: [
          {
            gpuModel: h.gpuModel,
            gpuCount: h.gpuCount,
            vramGb: h.vramGb,
            cpuCores: h.cpuCores,
            memoryGb: h.memoryGb,
            storageGb: h.storageGb,
            teeType: TEE_TYPES.indexOf(h.teeType ?? "None"),
          },
        ],
      }),
    );
  }
  for (const m of params.models ?? []) {
    await write(`setModel ${m.name}`, () =>
      client.writeContract({
        ...base,
        functionName: "setModel",
        args: [m.name, m.inputPricePerToken, m.outputPricePerToken],
      }),
    );
  }
  for (const t of params.tokenPrices ?? []) {
    await write(`setTokenPrice ${t.token}`, () =>
      client.writeContract({ ...base, functionName: "setTokenPrice", args: [t.token, t.pricePerHour] }),
    );
  }
  const maxConcurrentRentals = params.maxConcurrentRentals;
  if (maxConcurrentRentals !== undefined) {
    await write("setMaxConcurrentRentals", () =>
      client.writeContract({
        ...base,
        functionName: "setMaxConcurrentRentals",
        args: [maxConcurrentRentals],
      }),
    );
  }
  return { provider: account.address, registered: !current.registered, transactions };
}
