import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{sdk,node,relayer,indexer}/src/**/*.test.ts", "test/e2e/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
  },
});
