// The docs' provider registration, literally: deploy with the forge script, then run
//   cast send $COMPUTE_REGISTRY "register(string,string,uint256)" "https://mynode.example.com:4007" \
//     "$ATTESTATION_DATA" $(cast --to-wei 0.01) --value 0.1ether --rpc-url $RPC_URL --private-key $PRIVATE_KEY
// through bash, and read the provider back from the chain.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { createPublicClient, http, keccak256, parseEther, parseEventLogs, toBytes } from "viem";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeRegistryAbi } from "../../sdk/src/abis/index.ts";
import {
  type AnvilInstance,
  anvilAccounts,
  type Deployments,
  deployContracts,
  foundryBin,
  repoRoot,
  startAnvil,
} from "../../sdk/src/testing/anvil.ts";

const execFileAsync = promisify(execFile);

// The command exactly as the docs print it.
const DOCS_CAST_LINE = `cast send $COMPUTE_REGISTRY \\
  "register(string,string,uint256)" \\
  "https://mynode.example.com:4007" \\
  "$ATTESTATION_DATA" \\
  $(cast --to-wei 0.01) \\
  --value 0.1ether \\
  --rpc-url $RPC_URL \\
  --private-key $PRIVATE_KEY`;

describe("docs: cast send … register(string,string,uint256)", () => {
  let anvil: AnvilInstance;
  let deployments: Deployments;
  let workDir: string;

  beforeAll(async () => {
    anvil = await startAnvil();
    workDir = mkdtempSync(join(tmpdir(), "compute-cast-register-"));
    deployments = await deployContracts({ rpcUrl: anvil.rpcUrl, deploymentsFile: join(workDir, "31337.json") });
  });

  afterAll(async () => {
    await anvil?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function runDocsLine(privateKey: string, attestation: string): Promise<`0x${string}`> {
    const { stdout } = await execFileAsync("bash", ["-c", `${DOCS_CAST_LINE} --json`], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PATH: `${dirname(foundryBin.cast)}:${process.env.PATH ?? ""}`,
        COMPUTE_REGISTRY: deployments.ComputeRegistry,
        ATTESTATION_DATA: attestation,
        RPC_URL: anvil.rpcUrl,
        PRIVATE_KEY: privateKey,
      },
    });
    const receipt = JSON.parse(stdout) as { transactionHash: `0x${string}`; status: string; gasUsed: string };
    expect(receipt.status).toBe("0x1");
    return receipt.transactionHash;
  }

  it("registers the provider with 0.1 ETH stake and 0.01 ETH per GPU-hour", async () => {
    const client = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
    const provider = anvilAccounts[1];
    const attestation = JSON.stringify({ tee: "intel-tdx", quote: "0xdeadbeef", mrenclave: "ab".repeat(32) });

    const hash = await runDocsLine(provider.privateKey, attestation);
    const receipt = await client.getTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    expect(receipt.to?.toLowerCase()).toBe(deployments.ComputeRegistry.toLowerCase());
    expect(receipt.gasUsed).toBeLessThanOrEqual(150_000n);

    const info = await client.readContract({
      address: deployments.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [provider.address],
    });
    expect(info.registered).toBe(true);
    expect(info.active).toBe(true);
    expect(info.stake).toBe(parseEther("0.1"));
    expect(info.pricePerHour).toBe(parseEther("0.01"));
    expect(info.endpoint).toBe("https://mynode.example.com:4007");
    expect(info.attestationHash).toBe(keccak256(toBytes(attestation)));
    expect(await client.getBalance({ address: deployments.ComputeRegistry })).toBe(parseEther("0.1"));

    const [event, ...rest] = parseEventLogs({
      abi: computeRegistryAbi,
      logs: receipt.logs,
      eventName: "ProviderRegistered",
    });
    expect(rest).toHaveLength(0);
    expect(event?.args).toEqual({
      provider: provider.address,
      endpoint: "https://mynode.example.com:4007",
      attestation,
      attestationHash: keccak256(toBytes(attestation)),
      pricePerHour: parseEther("0.01"),
      stake: parseEther("0.1"),
    });
  });

  it("works as written with an empty $ATTESTATION_DATA", async () => {
    const client = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
    const provider = anvilAccounts[2];
    const hash = await runDocsLine(provider.privateKey, "");
    const receipt = await client.getTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    const info = await client.readContract({
      address: deployments.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [provider.address],
    });
    expect(info.stake).toBe(parseEther("0.1"));
    expect(info.pricePerHour).toBe(parseEther("0.01"));
    expect(info.attestationHash).toBe(keccak256("0x"));
    const [event] = parseEventLogs({ abi: computeRegistryAbi, logs: receipt.logs, eventName: "ProviderRegistered" });
    expect(event?.args.attestation).toBe("");
    expect(event?.args.provider).toBe(provider.address);
  });

  it("wrote the deployments file with the documented keys", () => {
    expect(deployments.chainId).toBe(31337);
    expect(deployments.deployer).toBe(anvilAccounts[0].address);
    expect(deployments.treasury).toBe(anvilAccounts[0].address);
    expect(deployments.USDC).not.toBe("0x0000000000000000000000000000000000000000");
    expect(deployments.startBlock).toBe(0);
  });
});
