#!/usr/bin/env node
// `compute` CLI: runs the TypeScript sources through tsx (no build step), e.g. `npx compute --help`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
