export * from "./client.ts";
export * from "./errors.ts";
export * from "./tee.ts";
export * from "./types.ts";
