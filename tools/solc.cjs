#!/usr/bin/env node
// A native-CLI shim around solcjs (npm `solc`, wasm) so forge can compile offline.
// forge calls `solc --version` and `solc --standard-json [--base-path P] [--include-path P]... [--allow-paths ...]`.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const solc = require("solc");

const args = process.argv.slice(2);

if (args.includes("--version") || args.includes("-v")) {
  const long = solc.version(); // 0.8.37+commit.f401782d.Emscripten.clang
  const m = /^(\d+\.\d+\.\d+)\+commit\.([0-9a-f]+)/.exec(long);
  const version = m ? `${m[1]}+commit.${m[2]}.Linux.g++` : long;
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("tools/solc.cjs only supports --version and --standard-json\n");
  process.exit(1);
}

// Import roots for the fallback resolver: --base-path and every --include-path.
const roots = [];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === "--base-path" || args[i] === "--include-path") && args[i + 1]) roots.push(args[++i]);
}
if (roots.length === 0) roots.push(process.cwd());

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.resolve(r, importPath));
  for (const file of candidates) {
    try {
      return { contents: fs.readFileSync(file, "utf8") };
    } catch {}
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
const output = solc.compile(input, { import: findImports });
process.stdout.write(output);
