/**
 * `GET /v1/network`: what a client needs to talk to this node's chain (the SDK reads it to find the rental
 * contract, the relayer and where to ssh).
 */
import type { Deployments } from "@jeju/compute-sdk/deployments";
import { Hono } from "hono";
import type { Address } from "viem";

export type NetworkInfo = {
  deployments: Deployments;
  relayerUrl: string;
  provider: Address | undefined;
  /** Null when rentals are off on this node. */
  ssh: { host: string; port: number } | null;
};

export function networkRoute(info: NetworkInfo): Hono {
  const app = new Hono();
  app.get("/", (c) =>
    c.json({
      chainId: info.deployments.chainId,
      contracts: {
        ComputeRegistry: info.deployments.ComputeRegistry,
        ComputeRental: info.deployments.ComputeRental,
        USDC: info.deployments.USDC,
      },
      startBlock: info.deployments.startBlock,
      relayer: info.relayerUrl,
      provider: info.provider ?? null,
      ssh: info.ssh,
    }),
  );
  return app;
}
