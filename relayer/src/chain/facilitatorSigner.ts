/**
 * The `FacilitatorEvmSigner` handed to x402's `ExactEvmScheme`: reads go to the public client, writes go
 * through the relayer's persisted {@link TxQueue} (simulated, nonce-ordered, idempotent by calldata), so
 * the same EIP-3009 authorization can never be broadcast twice by this relayer.
 */
import type { FacilitatorEvmSigner } from "@x402/evm";
import {
  type Abi,
  encodeFunctionData,
  type Hex,
  isAddressEqual,
  type PublicClient,
  recoverTypedDataAddress,
} from "viem";
import type { TxQueue } from "./txQueue.ts";

export function facilitatorSigner(
  queue: TxQueue,
  publicClient: PublicClient,
  receiptTimeoutMs = 60_000,
): FacilitatorEvmSigner {
  return {
    getAddresses: () => [queue.address],
    readContract: (args) =>
      publicClient.readContract({
        address: args.address,
        abi: args.abi as Abi,
        functionName: args.functionName,
        args: args.args as unknown[] | undefined,
      }),
    verifyTypedData: async (args) => {
      const typed = {
        domain: args.domain,
        types: args.types,
        primaryType: args.primaryType,
        message: args.message,
      } as unknown as Parameters<typeof recoverTypedDataAddress>[0];
      // EOAs: recover locally (no RPC); anything else (ERC-1271/6492 wallets): ask the chain.
      try {
        const signer = await recoverTypedDataAddress({ ...typed, signature: args.signature });
        if (isAddressEqual(signer, args.address)) return true;
      } catch {
        // not a plain ECDSA signature
      }
      return publicClient.verifyTypedData({
        ...typed,
        address: args.address,
        signature: args.signature,
      } as unknown as Parameters<PublicClient["verifyTypedData"]>[0]);
    },
    writeContract: async (args) => {
      const data = encodeFunctionData({
        abi: args.abi as Abi,
        functionName: args.functionName,
        args: args.args as unknown[],
      });
      const full = args.dataSuffix ? (`${data}${args.dataSuffix.slice(2)}` as Hex) : data;
      const { hash } = await queue.submit({ to: args.address, data: full, abi: args.abi as Abi });
      return hash;
    },
    sendTransaction: async (args) => (await queue.submit({ to: args.to, data: args.data })).hash,
    waitForTransactionReceipt: async (args) => {
      const r = await queue.waitForReceipt(args.hash, args.timeout ?? receiptTimeoutMs);
      return { status: r.status, logs: r.logs };
    },
    getCode: (args) => publicClient.getCode({ address: args.address }),
  };
}
