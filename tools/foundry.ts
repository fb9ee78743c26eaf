// `npm run forge -- <args>` (and `cast`, `anvil`): runs the platform binary npm installed and exits with its status.
//   tsx tools/foundry.ts forge test --match-contract ComputeRentalTest
import { fileURLToPath } from "node:url";
import { FoundryNotInstalledError, foundryTools, isFoundryTool, runFoundry } from "@jeju/compute-sdk/testing/foundry";

const root = fileURLToPath(new URL("..", import.meta.url));
const [tool, ...args] = process.argv.slice(2);
if (tool === undefined || !isFoundryTool(tool)) {
  process.stderr.write(`usage: tsx tools/foundry.ts <${foundryTools.join("|")}> [args…]\n`);
  process.exit(2);
}
try {
  process.exitCode = runFoundry(tool, args, root);
} catch (error) {
  if (!(error instanceof FoundryNotInstalledError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 127;
}
