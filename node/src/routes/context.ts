import type { Logger } from "../logger.ts";
import type { ModelRegistry } from "../backends/registry.ts";
import type { InflightTracker } from "../http/inflight.ts";

/** What the inference routes need from the app. */
export type InferenceContext = {
  registry: ModelRegistry;
  inflight: InflightTracker;
  log: Logger;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  /** Streaming write batching window (ms). */
  streamFlushMs: number;
};
