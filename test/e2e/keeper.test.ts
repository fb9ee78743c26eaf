/**
 * The relayer's downtime keeper with real parts: anvil with the deployed contracts, the Ponder indexer as the
 * source of active providers, the relayer's own transaction queue. A provider silent for over 4 hours (chain
 * time) is reported, deactivated and slashed, exactly once; one that keeps heartbeating is left alone.
 */
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import { registerProvider } from "@jeju/compute-sdk/actions/registerProvider";
import { createIndexerClient } from "@jeju/compute-sdk/indexer/index";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import { type Chain, createWalletClient, http, type PublicClient, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relayer } from "../../relayer/src/app.ts";
import { type Stack, stackClient, stackRelayer, startStack, within } from "./indexer-fixture.ts";

const silent = privateKeyToAccount(anvilAccounts[5].privateKey);
const alive = privateKeyToAccount(anvilAccounts[6].privateKey);
const relayerAccount = privateKeyToAccount(anvilAccounts[9].privateKey);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compute-keeper-"));

let stack: Stack;
let relayer: Relayer;
let publicClient: PublicClient;

describe("downtime keeper", () => {
  beforeAll(async () => {
    stack = await startStack();
    let chain: Chain;
    ({ chain, publicClient } = stackClient(stack));
    for (const account of [silent, alive]) {
      await registerProvider({
        walletClient: createWalletClient({ chain, transport: http(stack.anvil.rpcUrl), account }),
        registry: stack.deployments.ComputeRegistry,
        endpoint: `http://127.0.0.1:9/${account.address}`,
        pricePerHour: parseEther("0.01"),
        stake: parseEther("0.1"),
      });
    }
    relayer = await stackRelayer(stack, path.join(dir, "relayer.sqlite"), { downtimeCheckIntervalMs: 0 });
  }, 180_000);

  afterAll(async () => {
    relayer?.close();
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports a provider silent for over 4 hours (deactivated, slashed, reporter paid) once, and leaves a live one alone", async () => {
    const registry = stack.deployments.ComputeRegistry;
    const read = <T>(functionName: string, args: unknown[] = []) =>
      publicClient.readContract({
        address: registry,
        abi: computeRegistryAbi,
        functionName,
        args,
      } as never) as Promise<T>;
    const indexer = createIndexerClient(stack.indexer.url);
    await within(30_000, async () =>
      (await indexer.listProviders({ active: true })).providers.length === 2 ? true : undefined,
    );
    const keeper = relayer.keeper;
    if (!keeper) throw new Error("no keeper");

    expect(await keeper.tick(), "nobody is late yet").toEqual([]);

    await publicClient.request({ method: "evm_increaseTime" as never, params: [4 * 3600 + 60] as never });
    // The live provider heartbeats; the silent one does not.
    const aliveWallet = createWalletClient({
      chain: publicClient.chain,
      transport: http(stack.anvil.rpcUrl),
      account: alive,
    });
    await publicClient.waitForTransactionReceipt({
      hash: await aliveWallet.writeContract({
        address: registry,
        abi: computeRegistryAbi,
        functionName: "heartbeat",
        chain: publicClient.chain,
      }),
    });

    const slashAmount = await read<bigint>("downtimeSlashAmount");
    const rewardBps = await read<bigint>("reporterRewardBps");
    const creditsBefore = await read<bigint>("credits", [relayerAccount.address]);
    const reports = await keeper.tick();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      provider: silent.address,
      slashed: slashAmount,
      reward: (slashAmount * rewardBps) / 10_000n,
    });

    const p = await read<{ active: boolean; stake: bigint }>("getProvider", [silent.address]);
    expect(p).toMatchObject({ active: false, stake: parseEther("0.1") - slashAmount });
    expect(await read<bigint>("credits", [relayerAccount.address])).toBe(
      creditsBefore + (slashAmount * rewardBps) / 10_000n,
    );
    expect((await read<{ active: boolean; stake: bigint }>("getProvider", [alive.address])).active).toBe(true);

    // The indexer drops it from the active list; the keeper does not report the same outage again.
    await within(30_000, async () => {
      const { providers } = await indexer.listProviders({ active: true });
      return providers.length === 1 && providers[0]?.address === alive.address ? true : undefined;
    });
    expect(await keeper.tick()).toEqual([]);
  });
});
