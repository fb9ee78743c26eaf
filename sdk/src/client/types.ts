import type { Account, Address, Chain, Hash, Transport, WalletClient } from "viem";

/** What `GET {endpoint}/v1/network` answers. */
export type NetworkInfo = {
  chainId: number;
  contracts: {
    ComputeRegistry: Address;
    ComputeRental: Address;
    USDC: Address;
  };
  relayer?: string | null | undefined;
  provider?: string | null | undefined;
  ssh?: { host: string; port: number } | null;
  rpcUrl?: string | null | undefined;
  /** Block the contracts were deployed at (where event searches start). */
  startBlock?: number | null | undefined;
};

export type ComputeWallet = WalletClient<Transport, Chain | undefined, Account> | Account;

export type ComputeClientOptions = {
  /** A node (`http://127.0.0.1:4007`) or the marketplace gateway. */
  endpoint: string;
  /** A viem WalletClient with an account, or a viem Account (then `rpcUrl` is used for the chain). */
  wallet?: ComputeWallet | undefined;
  /** JSON-RPC URL; default: the wallet client's transport, else `network.rpcUrl`, else http://127.0.0.1:8545. */
  rpcUrl?: string | undefined;
  /** Post gasless sessions straight to a relayer instead of through the endpoint. */
  relayerUrl?: string | undefined;
  /** `fetch` to use (tests). */
  fetch?: typeof fetch | undefined;
};

export type SessionStatus = "pending" | "active" | "ended" | "rejected" | "cancelled";

export type SshInfo = { host: string; port: number; username: string };

export type CreateSessionStage =
  | "quoting"
  | "approving"
  | "submitting"
  | "signing"
  | "relaying"
  | "confirmed"
  | "provisioning"
  | "active";

export type CreateSessionParameters = {
  /** `provider-0x…` (as listed by `/v1/providers`) or the provider's address. */
  providerId: string;
  durationHours: number;
  sshPublicKey: string;
  gpuCount: number;
  /** ERC-20 (e.g. USDC) address; default ETH (address(0)), or USDC when `gasless`. */
  paymentToken?: Address | undefined;
  /** Pay through the relayer with a signed USDC authorization (no ETH needed). Default: automatic — gasless when
   * paying in USDC and the wallet cannot pay for gas. */
  gasless?: boolean | undefined;
  /** Called as the session moves along. */
  onProgress?: (stage: CreateSessionStage, detail?: { txHash?: Hash; sessionId?: string }) => void;
  /** How long to wait for the provider to activate the session (ms). Default 120 000. */
  timeoutMs?: number | undefined;
  /** Poll interval for the session status (ms). Default 500. */
  pollIntervalMs?: number | undefined;
};

export type Session = {
  id: string;
  status: SessionStatus;
  provider: Address;
  renter: Address;
  /** address(0) for ETH. */
  token: Address;
  gpuCount: number;
  durationHours: number;
  ratePerHour: bigint;
  prepaid: bigint;
  used: bigint;
  refundableNow: bigint;
  createdAt: number | null;
  activatedAt: number | null;
  /** Unix seconds; null until active. */
  expiresAt: number | null;
  endedAt: number | null;
  ssh: SshInfo | null;
};

export type CreateSessionReturnType = Session & {
  ssh: SshInfo;
  /** The transaction that created (and paid for) the session. */
  txHash: Hash;
  /** Whether it went through the relayer. */
  gasless: boolean;
};

export type EndSessionParameters = {
  /** Force the gasless path (EIP-712 signature, relayer pays gas). Default: gasless when the wallet has no ETH. */
  gasless?: boolean | undefined;
};

export type EndSessionDetails = {
  id: string;
  refund: bigint;
  token: Address;
  txHash: Hash;
  gasless: boolean;
  /** Whether the refund is already in the wallet (gasless ERC-20) or credited in the contract (`withdraw`). */
  refundCredited: boolean;
};

export type ExtendSessionDetails = {
  id: string;
  addedHours: number;
  /** What was paid (wei / token units): the session's own rate × GPUs × hours. */
  paid: bigint;
  token: Address;
  /** Total paid duration and prepaid amount after the extension. */
  durationHours: number;
  prepaid: bigint;
  /** New expiry (unix seconds); 0 while the session is not active yet. */
  expiresAt: number;
  txHash: Hash;
};

export type CancelSessionDetails = {
  id: string;
  /** The whole prepaid amount, credited in the rental contract (`withdraw(token)`). */
  refund: bigint;
  token: Address;
  /** Wei taken from the provider's stake and credited to the renter in the registry (`withdrawCompensation()`). */
  slashed: bigint;
  txHash: Hash;
};

export type ProviderFilters = {
  model?: string | undefined;
  minGpus?: number | undefined;
  minAvailableGpus?: number | undefined;
  tee?: string | undefined;
  maxPrice?: string | undefined;
  token?: string | undefined;
  sort?: string | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
  /** Default true (only active providers); "all" for every provider. */
  active?: boolean | "all" | undefined;
};

export type ProviderRate = {
  token: Address;
  symbol: string | null;
  decimals: number | null;
  amount: string;
  formatted: string | null;
};

/** The node's provider JSON (`/v1/providers`); fields beyond these are kept as-is. */
export type Provider = {
  id: string;
  address: Address;
  endpoint: string;
  status: "active" | "inactive";
  hardware: {
    gpus: { model: string | null; count: number; vramGb: number };
    cpu: { cores: number };
    memory: { gb: number };
    storage: { gb: number };
  };
  pricing: { hourlyRate: ProviderRate | null; rates: ProviderRate[] };
  models: string[];
  availability: {
    gpusTotal: number;
    gpusInUse: number;
    gpusAvailable: number;
    acceptingRentals: boolean;
  };
  tee: { type: string; enabled: boolean; verified: boolean };
  [key: string]: unknown;
};
