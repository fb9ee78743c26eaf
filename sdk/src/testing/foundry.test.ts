import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./anvil.ts";
import { FoundryNotInstalledError, foundryBinary, foundryPackageName, foundryTools, runFoundry } from "./foundry.ts";

describe("foundryPackageName", () => {
  it.each([
    ["linux", "x64", "linux-amd64"],
    ["linux", "arm64", "linux-arm64"],
    ["darwin", "x64", "darwin-amd64"],
    ["darwin", "arm64", "darwin-arm64"],
    ["win32", "x64", "win32-amd64"],
  ])("names Foundry's package for %s-%s", (platform, arch, suffix) => {
    for (const tool of foundryTools) {
      expect(foundryPackageName(tool, { platform, arch })).toBe(`@foundry-rs/${tool}-${suffix}`);
    }
  });

  it("refuses a platform Foundry publishes nothing for, listing the supported ones", () => {
    expect(() => foundryPackageName("forge", { platform: "freebsd", arch: "x64" })).toThrow(FoundryNotInstalledError);
    expect(() => foundryPackageName("anvil", { platform: "win32", arch: "arm64" })).toThrow(
      /no anvil binary for win32-arm64 \(supported: linux-x64, linux-arm64, darwin-x64, darwin-arm64, win32-x64\)/,
    );
  });
});

describe("foundryBinary", () => {
  const fakeRoot = mkdtempSync(join(tmpdir(), "foundry-resolver-"));
  afterAll(() => rmSync(fakeRoot, { recursive: true, force: true }));

  it.each([
    ["darwin", "arm64", "darwin-arm64", "forge"],
    ["darwin", "x64", "darwin-amd64", "forge"],
    ["linux", "arm64", "linux-arm64", "forge"],
    ["win32", "x64", "win32-amd64", "forge.exe"],
  ])("finds the %s-%s binary in its platform package", (platform, arch, suffix, file) => {
    const dir = join(fakeRoot, "node_modules", "@foundry-rs", `forge-${suffix}`, "bin");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, file), "");
    expect(foundryBinary("forge", fakeRoot, { platform, arch })).toBe(join(dir, file));
  });

  it("names the missing package when it is not installed", () => {
    expect(() => foundryBinary("cast", fakeRoot, { platform: "darwin", arch: "arm64" })).toThrow(
      /cast is not installed: @foundry-rs\/cast-darwin-arm64 is missing from node_modules/,
    );
  });

  it("resolves the real binaries installed on this machine, never the npm wrappers", () => {
    for (const tool of foundryTools) {
      const bin = foundryBinary(tool, repoRoot);
      expect(existsSync(bin)).toBe(true);
      expect(bin).not.toContain(join("node_modules", ".bin"));
      expect(bin).toContain(join("node_modules", "@foundry-rs", `${tool}-`));
    }
  });
});

describe("runFoundry", () => {
  it("returns the tool's own exit status (the npm wrapper of 1.7.1 returns 0 for both)", () => {
    const dir = mkdtempSync(join(tmpdir(), "foundry-status-"));
    try {
      writeFileSync(join(dir, "Bad.sol"), "contract   Bad{}\n");
      writeFileSync(join(dir, "Good.sol"), "contract Good {}\n");
      expect(runFoundry("forge", ["fmt", "--check", join(dir, "Bad.sol")], repoRoot)).toBe(1);
      expect(runFoundry("forge", ["fmt", "--check", join(dir, "Good.sol")], repoRoot)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
