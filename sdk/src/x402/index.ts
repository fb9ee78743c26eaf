export * from "./network.ts";
export * from "./schemas.ts";
export * from "./requirements.ts";
export * from "./headers.ts";
export * from "./eip3009.ts";
export * from "./sessions.ts";
export * from "./pricing.ts";
