/**
 * The downtime keeper: the docs' "providers can be slashed for extended downtime over 4 hours", enforced.
 *
 * `ComputeRegistry.reportDowntime(provider)` lets anyone report a provider whose last heartbeat is older than
 * `DOWNTIME_THRESHOLD`: the provider is deactivated (so the gateway and renters stop choosing it) and slashed,
 * the reporter earning a share. Nothing calls it by itself, so the relayer does: every `intervalMs` it takes the
 * active providers from the indexer, and for each whose heartbeat is too old by the chain's clock, re-checks the
 * registry and sends the report through its transaction queue (idempotent per provider and outage, so a restart
 * never reports the same outage twice). The reward accrues to the relayer's address in the registry's credits.
 */
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import { type Address, encodeFunctionData, type PublicClient, parseEventLogs } from "viem";
import type { TxQueue } from "../chain/txQueue.ts";
import type { Logger } from "../logger.ts";

export type DowntimeKeeperOptions = {
  /** Active providers (address and last heartbeat, unix seconds), e.g. from the indexer. A hint only. */
  listProviders: () => Promise<{ address: Address; lastHeartbeat: bigint }[]>;
  publicClient: PublicClient;
  registry: Address;
  queue: Pick<TxQueue, "submit" | "waitForReceipt">;
  chainId: number;
  log: Logger;
  /** Default 5 minutes; 0 turns the keeper off. */
  intervalMs?: number;
};

export type DowntimeReport = { provider: Address; slashed: bigint; reward: bigint; txHash: `0x${string}` };

export class DowntimeKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private threshold: bigint | undefined;

  constructor(private readonly o: DowntimeKeeperOptions) {}

  start(): void {
    const every = this.o.intervalMs ?? 300_000;
    if (every <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, "downtime keeper: pass failed"))
        .finally(() => (this.running = undefined));
    }, every);
    this.timer.unref();
    this.o.log.info({ intervalMs: every }, "downtime keeper on");
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: reports every active provider that has been silent too long. */
  async tick(): Promise<DowntimeReport[]> {
    const pc = this.o.publicClient;
    this.threshold ??= await pc.readContract({
      address: this.o.registry,
      abi: computeRegistryAbi,
      functionName: "DOWNTIME_THRESHOLD",
    });
    const threshold = this.threshold;
    const now = (await pc.getBlock({ blockTag: "latest" })).timestamp;
    const stale = (await this.o.listProviders()).filter((p) => p.lastHeartbeat + threshold < now);
    const reports: DowntimeReport[] = [];
    for (const hint of stale) {
      // The indexer may lag: only the registry decides.
      const p = await pc.readContract({
        address: this.o.registry,
        abi: computeRegistryAbi,
        functionName: "getProvider",
        args: [hint.address],
      });
      if (!p.active || p.lastHeartbeat + threshold >= now) continue;
      try {
        const { hash } = await this.o.queue.submit({
          to: this.o.registry,
          data: encodeFunctionData({ abi: computeRegistryAbi, functionName: "reportDowntime", args: [hint.address] }),
          key: `downtime:${this.o.chainId}:${hint.address.toLowerCase()}:${p.lastHeartbeat}`,
          abi: computeRegistryAbi,
        });
        const receipt = await this.o.queue.waitForReceipt(hash);
        if (receipt.status !== "success") throw new Error(`reportDowntime reverted (${hash})`);
        const [ev] = parseEventLogs({ abi: computeRegistryAbi, eventName: "ProviderSlashed", logs: receipt.logs });
        const report: DowntimeReport = {
          provider: hint.address,
          slashed: ev?.args.amount ?? 0n,
          reward: ev?.args.reporterReward ?? 0n,
          txHash: hash,
        };
        reports.push(report);
        this.o.log.info(
          {
            ...report,
            slashed: report.slashed.toString(),
            reward: report.reward.toString(),
            lastHeartbeat: p.lastHeartbeat.toString(),
          },
          "provider down for over 4 hours: reported, deactivated and slashed",
        );
      } catch (err) {
        this.o.log.warn(
          { provider: hint.address, err: (err as Error).message },
          "downtime keeper: report failed (will retry)",
        );
      }
    }
    return reports;
  }
}
