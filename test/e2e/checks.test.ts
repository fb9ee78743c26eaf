// The checks in `npm test` can fail: in a throwaway copy of this repository, a failing forge test, a stale gas
// snapshot, a lint finding and a type error in indexer/ each make their npm script exit non-zero, naming the cause.
// (Foundry 1.7.1's npm wrappers exit 0 whatever forge says; the scripts call the platform binary instead.)
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../sdk/src/testing/anvil.ts";

const trackedFiles = (): string[] => {
  const res = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (res.status !== 0) throw new Error(`git ls-files failed: ${res.stderr}`);
  return res.stdout.split("\0").filter((f) => f !== "" && existsSync(join(repoRoot, f)));
};

/** A copy of the working tree's files (plus forge's build cache, so nothing recompiles) sharing this checkout's installs. */
function copyRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), "compute-checks-"));
  for (const file of trackedFiles()) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(repoRoot, file), join(dir, file));
  }
  for (const d of ["node_modules", "node/node_modules", "sdk/node_modules"]) {
    symlinkSync(join(repoRoot, d), join(dir, d));
  }
  for (const d of ["out", "cache"]) cpSync(join(repoRoot, d), join(dir, d), { recursive: true });
  // Biome reads .gitignore through git.
  spawnSync("git", ["init", "-q"], { cwd: dir });
  return dir;
}

function npmRun(cwd: string, script: string): { status: number | null; output: string } {
  const res = spawnSync("npm", ["run", script], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    // Fewer fuzz and invariant runs than CI's profile: these tests are about exit codes, not coverage.
    env: { ...process.env, FOUNDRY_FUZZ_RUNS: "16", FOUNDRY_INVARIANT_RUNS: "4", FOUNDRY_INVARIANT_DEPTH: "8" },
  });
  return { status: res.status, output: `${res.stdout}\n${res.stderr}` };
}

describe("npm test's checks fail when they should", () => {
  let dir: string;
  beforeAll(() => {
    dir = copyRepo();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a failing forge test makes `npm run test:contracts` exit non-zero", { timeout: 240_000 }, () => {
    const file = join(dir, "test/unit/DeliberatelyFailing.t.sol");
    writeFileSync(
      file,
      [
        "// SPDX-License-Identifier: MIT",
        "pragma solidity 0.8.37;",
        "",
        'import {Test} from "forge-std/Test.sol";',
        "",
        "contract DeliberatelyFailingTest is Test {",
        "    function test_deliberatelyFails() public pure {",
        '        assertEq(uint256(1), uint256(2), "one is not two");',
        "    }",
        "}",
        "",
      ].join("\n"),
    );
    try {
      const { status, output } = npmRun(dir, "test:contracts");
      expect(output).toMatch(/\[FAIL: one is not two: 1 != 2\] test_deliberatelyFails\(\)/);
      expect(status).not.toBe(0);
    } finally {
      rmSync(file);
    }
  });

  it("a stale gas snapshot makes `npm run test:contracts` exit non-zero", { timeout: 240_000 }, () => {
    const snapshot = join(dir, ".gas-snapshot");
    const honest = readFileSync(snapshot, "utf8");
    const stale = honest.replace(/(test_gas_register\(\) \(gas: )(\d+)\)/, (_, head: string, gas: string) => {
      return `${head}${Number(gas) - 1})`;
    });
    expect(stale).not.toBe(honest);
    writeFileSync(snapshot, stale);
    try {
      const { status, output } = npmRun(dir, "test:contracts");
      expect(output).toMatch(/Diff in "GasBenchmarkTest::test_gas_register\(\)"/);
      expect(status).not.toBe(0);
    } finally {
      writeFileSync(snapshot, honest);
    }
  });

  it("a lint finding makes `npm run lint` exit non-zero", { timeout: 120_000 }, () => {
    expect(npmRun(dir, "lint").status).toBe(0);
    const file = join(dir, "node/src/lint-finding.ts");
    writeFileSync(file, "export function f(x?: string): number {\n  const unused = 1;\n  return x!.length;\n}\n");
    try {
      const { status, output } = npmRun(dir, "lint");
      expect(output).toContain("lint/correctness/noUnusedVariables");
      expect(output).toContain("lint/style/noNonNullAssertion");
      expect(status).not.toBe(0);
    } finally {
      rmSync(file);
    }
  });

  it("a type error in indexer/ makes `npm run typecheck` exit non-zero", { timeout: 240_000 }, () => {
    const file = join(dir, "indexer/src/type-error.ts");
    writeFileSync(file, 'export const port: number = "42069";\n');
    try {
      const { status, output } = npmRun(dir, "typecheck");
      expect(output).toMatch(
        /src\/type-error\.ts\(1,14\): error TS2322: Type 'string' is not assignable to type 'number'/,
      );
      expect(status).not.toBe(0);
    } finally {
      rmSync(file);
    }
  });
});
