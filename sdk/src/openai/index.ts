export * from "./errors.ts";
export * from "./schemas.ts";
export * from "./types.ts";
export * from "./sse.ts";
export * from "./embeddings.ts";
export * from "./ids.ts";
export * from "./body.ts";
