/**
 * The node's view of the chain: the deployed contracts (from the deployments file), a public client, and,
 * when PRIVATE_KEY is set, the provider's wallet. Built once at start-up from the config.
 */
import { type Deployments, readDeployments } from "@jeju/compute-sdk/deployments";
import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

export type ChainContext = {
  rpcUrl: string;
  deployments: Deployments;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  /** The provider's wallet (PRIVATE_KEY); undefined on a read-only node. */
  wallet: WalletClient<Transport, Chain, Account> | undefined;
  /** The provider's address (the wallet's account). */
  provider: Address | undefined;
};

export type ChainContextConfig = {
  rpcUrl: string;
  privateKey: string | undefined;
  deploymentsFile: string;
  /** Poll interval for receipts and event watching (ms). */
  pollingIntervalMs?: number;
};

export class ChainConfigError extends Error {
  override readonly name = "ChainConfigError";
}

export function createChainContext(config: ChainContextConfig): ChainContext {
  let deployments: Deployments;
  try {
    deployments = readDeployments(config.deploymentsFile);
  } catch (err) {
    throw new ChainConfigError(
      `cannot read the deployments file ${config.deploymentsFile} (set DEPLOYMENTS_FILE): ${(err as Error).message}`,
    );
  }
  const chain = defineChain({
    id: deployments.chainId,
    name: deployments.chainId === 31337 ? "Localnet" : `Chain ${deployments.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
  const transport = http(config.rpcUrl);
  const pollingInterval = config.pollingIntervalMs ?? (deployments.chainId === 31337 ? 250 : 4_000);
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  let wallet: ChainContext["wallet"];
  if (config.privateKey !== undefined) {
    const key = (config.privateKey.startsWith("0x") ? config.privateKey : `0x${config.privateKey}`) as Hex;
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new ChainConfigError("PRIVATE_KEY must be 32 bytes of hex");
    wallet = createWalletClient({ account: privateKeyToAccount(key), chain, transport, pollingInterval });
  }
  return { rpcUrl: config.rpcUrl, deployments, chain, publicClient, wallet, provider: wallet?.account.address };
}
