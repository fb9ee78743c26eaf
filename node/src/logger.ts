import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level = "info"): Logger {
  return pino({ name: "compute-node", level, base: { pid: process.pid } });
}

/** A logger that writes nothing (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: "silent" });
