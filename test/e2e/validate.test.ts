/**
 * `npm run validate <url>` (the docs' `bun run validate`), run as a user runs it, against a real node and
 * against a port where nothing listens.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockBackend } from "../../node/src/backends/mock.ts";
import { closedPort, startTestNode, type TestNode } from "../../node/src/testing/harness.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const TSX_CLI = path.join(REPO, "node_modules", "tsx", "dist", "cli.mjs");

function validate(url: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX_CLI, "tools/validate.ts", url],
      { cwd: REPO, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode([new MockBackend()]);
});
afterAll(async () => {
  await node?.close();
});

describe("npm run validate", () => {
  it("passes every check against a working node, naming what it found", async () => {
    const { code, out } = await validate(node.url);
    expect(out).toContain(`Validating the Compute node at ${node.url}`);
    for (const line of [
      /✓ health +version 0\.1\.0, backends mock/,
      /✓ models +mock-model/,
      /✓ chat +mock-model: "This is a mock response/,
      /✓ chat \(streaming\) +\d+ SSE frames, ends with \[DONE\]/,
      /✓ embeddings +256 dimensions/,
      /✓ hardware +\d+ cores/,
      /✓ agents \(A2A, MCP\) +A2A skills inference, embed, rent_compute, list_providers; MCP tools list_models, chat, embed, hardware/,
    ]) {
      expect(out).toMatch(line);
    }
    expect(out).toContain("All 7 checks passed.");
    expect(code).toBe(0);
  });

  it("fails with a readable reason and exit code 1 when nothing answers", async () => {
    const port = await closedPort();
    const { code, out } = await validate(`http://127.0.0.1:${port}`);
    expect(out).toMatch(new RegExp(`✗ health +cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    expect(out).toContain("1 of 1 checks failed.");
    expect(code).toBe(1);
  });
});
