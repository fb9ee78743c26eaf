// Finds Foundry's platform binaries (forge, cast, anvil) that npm installed, so every caller gets the tool's own exit
// status. The npm wrappers of Foundry 1.7.1 (`node_modules/.bin/forge` → `@foundry-rs/forge/bin.mjs`) spawn the
// platform binary and always exit 0 (foundry-rs/foundry#14781), so a failing `forge test` looked green; nothing here
// goes through them.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";

export const foundryTools = ["forge", "cast", "anvil"] as const;
export type FoundryTool = (typeof foundryTools)[number];

/** The platforms Foundry publishes npm packages for (`@foundry-rs/<tool>-<os>-<arch>`), keyed by Node's names. */
const platformSuffixes: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  linux: { x64: "linux-amd64", arm64: "linux-arm64" },
  darwin: { x64: "darwin-amd64", arm64: "darwin-arm64" },
  win32: { x64: "win32-amd64" },
};

export interface FoundryPlatform {
  /** `process.platform` */
  platform: string;
  /** `process.arch` */
  arch: string;
}

const here: FoundryPlatform = { platform: process.platform, arch: process.arch };

/** Thrown when this platform has no Foundry package, or its package is not installed. */
export class FoundryNotInstalledError extends Error {
  override name = "FoundryNotInstalledError";
}

export function isFoundryTool(name: string): name is FoundryTool {
  return (foundryTools as readonly string[]).includes(name);
}

/** The npm package that carries `tool` for a platform, e.g. `@foundry-rs/forge-darwin-arm64`. */
export function foundryPackageName(tool: FoundryTool, { platform, arch }: FoundryPlatform = here): string {
  const suffix = platformSuffixes[platform]?.[arch];
  if (suffix === undefined) {
    const supported = Object.entries(platformSuffixes)
      .flatMap(([os, arches]) => Object.keys(arches).map((a) => `${os}-${a}`))
      .join(", ");
    throw new FoundryNotInstalledError(
      `Foundry publishes no ${tool} binary for ${platform}-${arch} (supported: ${supported}); install Foundry ` +
        `yourself and put ${tool} on PATH`,
    );
  }
  return `@foundry-rs/${tool}-${suffix}`;
}

/** Path of the platform binary of `tool` under `root`/node_modules; throws naming the missing package. */
export function foundryBinary(tool: FoundryTool, root: string, target: FoundryPlatform = here): string {
  const pkg = foundryPackageName(tool, target);
  const file = join(root, "node_modules", ...pkg.split("/"), "bin", target.platform === "win32" ? `${tool}.exe` : tool);
  if (!existsSync(file)) {
    throw new FoundryNotInstalledError(
      `${tool} is not installed: ${pkg} is missing from node_modules (looked for ${file}). Run \`npm install\`; ` +
        `npm installs it as an optional dependency of @foundry-rs/${tool}, so do not use --omit=optional.`,
    );
  }
  return file;
}

/**
 * Runs `tool` with `args` and inherited stdio; returns the exit status the tool itself reported (128 + signal number
 * when it was killed by a signal, as a shell would).
 */
export function runFoundry(tool: FoundryTool, args: readonly string[], root: string): number {
  const result = spawnSync(foundryBinary(tool, root), args, { stdio: "inherit" });
  if (result.error) throw result.error;
  if (result.status !== null) return result.status;
  return 128 + (result.signal === null ? 0 : constants.signals[result.signal]);
}
