/**
 * The Gateway UI at /nodes in a real browser (Debian's Chromium driven by playwright-core), against anvil with
 * the deployed contracts, the Ponder indexer and the relayer. The wallet is an EIP-1193 `window.ethereum` whose
 * requests go to anvil, which signs for its unlocked accounts: the page does what it would do with MetaMask.
 */
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import { registerProvider } from "@jeju/compute-sdk/actions/registerProvider";
import { anvilAccounts } from "@jeju/compute-sdk/testing/anvil";
import { type Browser, chromium, type Page } from "playwright-core";
import { type Chain, createWalletClient, http, type PublicClient, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relayer } from "../../relayer/src/app.ts";
import { type Stack, stackClient, stackRelayer, startStack } from "./indexer-fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = !fs.existsSync(CHROMIUM);

let stack: Stack;
let relayer: Relayer;
let server: ServerType;
let base: string;
let browser: Browser;
let publicClient: PublicClient;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "compute-chromium-"));
const hostile = privateKeyToAccount(anvilAccounts[5].privateKey);
const visitor = privateKeyToAccount(anvilAccounts[6].privateKey);
/** The page waits on chain reads and the wallet: give it time on a busy machine (expect.poll's default is 1 s). */
const POLL = { timeout: 15_000 };
const HOSTILE_ENDPOINT = `http://evil.example/<img src=x onerror="window.__pwned=1">`;

/** A page whose `window.ethereum` is a wallet holding `account` (anvil signs; the page only sees EIP-1193). */
async function walletPage(account?: `0x${string}`): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (account) {
    await page.exposeFunction("__anvil", async (payload: string) => {
      const res = await fetch(stack.anvil.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
      });
      return res.text();
    });
    await page.addInitScript((from) => {
      let id = 0;
      const w = globalThis as unknown as { __anvil(p: string): Promise<string>; ethereum: unknown };
      w.ethereum = {
        isMetaMask: false,
        async request({ method, params }: { method: string; params?: unknown[] }) {
          if (method === "eth_requestAccounts" || method === "eth_accounts") return [from];
          const answer = JSON.parse(
            await w.__anvil(JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] })),
          );
          if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
          return answer.result;
        },
      };
    }, account);
  }
  await page.goto(`${base}/nodes`);
  return page;
}

const getProvider = (address: `0x${string}`) =>
  publicClient.readContract({
    address: stack.deployments.ComputeRegistry,
    abi: computeRegistryAbi,
    functionName: "getProvider",
    args: [address],
  });

describe.skipIf(skip)("Gateway UI /nodes (Chromium)", () => {
  beforeAll(async () => {
    stack = await startStack();
    let chain: Chain;
    ({ chain, publicClient } = stackClient(stack));
    // A provider whose endpoint is an XSS attempt: the page must show it as text.
    await registerProvider({
      walletClient: createWalletClient({ chain, transport: http(stack.anvil.rpcUrl), account: hostile }),
      registry: stack.deployments.ComputeRegistry,
      endpoint: HOSTILE_ENDPOINT,
      pricePerHour: parseEther("0.03"),
      stake: parseEther("0.1"),
    });
    relayer = await stackRelayer(stack, path.join(profile, "relayer.sqlite"));
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: relayer.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    relayer?.close();
    await stack?.stop();
    fs.rmSync(profile, { recursive: true, force: true });
  });

  it("lists the active providers, showing what they published as text (no HTML from the chain)", async () => {
    const page = await walletPage();
    const row = page.locator(`tr[data-address="${hostile.address.toLowerCase()}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator("td").nth(1).textContent()).toBe(HOSTILE_ENDPOINT);
    expect(await row.locator("td").nth(3).textContent()).toBe("0.03 ETH");
    expect(await row.locator("td").nth(4).textContent()).toBe("0.1 ETH");
    expect(await page.locator("#providers img").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator("#list-status").textContent()).toBe("1 active provider(s)");
    const csp = (await page.request.get(`${base}/nodes`)).headers()["content-security-policy"];
    expect(csp).toContain("script-src 'self'");
  });

  it("without a wallet it says so and shows the cast command for the same registration", async () => {
    const page = await walletPage();
    await page.click("#connect");
    await expect.poll(() => page.locator("#status").textContent(), POLL).toContain("No wallet found in this browser");
    await page.fill("#endpoint", "https://mynode.example.com:4007");
    await page.locator("#endpoint").dispatchEvent("change");
    await expect
      .poll(() => page.locator("#cast").textContent(), POLL)
      .toContain(`cast send ${stack.deployments.ComputeRegistry}`);
    const cast = (await page.locator("#cast").textContent()) ?? "";
    expect(cast).toContain(`"register(string,string,uint256)"`);
    expect(cast).toContain("'https://mynode.example.com:4007'");
    expect(cast).toContain("$(cast --to-wei 0.01)");
    expect(cast).toContain("--value 0.1ether");
  });

  it("registers the visitor's node with their wallet: a bad stake is refused first, then the transaction lands and the node is listed", async () => {
    const page = await walletPage(visitor.address);
    await page.click("#connect");
    await expect.poll(() => page.locator("#account").textContent(), POLL).toBe(visitor.address);
    await page.fill("#endpoint", "http://127.0.0.1:4999");
    await page.fill("#price", "0.02");
    await page.fill("#stake", "0.05");
    await page.click("#submit");
    await expect.poll(() => page.locator("#status").textContent(), POLL).toBe("stake: at least 0.1 ETH");
    expect((await getProvider(visitor.address)).registered).toBe(false);

    await page.fill("#stake", "0.25");
    await page.click("#submit");
    await expect
      .poll(() => page.locator("#status").textContent(), { timeout: 30_000 })
      .toMatch(/^Registered in block \d+ \(0x[0-9a-f]{64}\)/);
    const p = await getProvider(visitor.address);
    expect(p).toMatchObject({
      registered: true,
      active: true,
      endpoint: "http://127.0.0.1:4999",
      stake: parseEther("0.25"),
      pricePerHour: parseEther("0.02"),
    });
    const row = page.locator(`tr[data-address="${visitor.address.toLowerCase()}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator("td").nth(1).textContent()).toBe("http://127.0.0.1:4999");

    // Registering again is refused before any transaction.
    await page.click("#submit");
    await expect
      .poll(() => page.locator("#status").textContent(), POLL)
      .toBe(`${visitor.address} is already registered (endpoint http://127.0.0.1:4999)`);
  });

  it("the API names the field that is wrong", async () => {
    const post = (body: unknown) =>
      fetch(`${base}/nodes/api/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const cases: [unknown, string, string][] = [
      [{ endpoint: "ftp://x", pricePerHour: "0.01", stake: "0.1" }, "endpoint", "invalid_endpoint"],
      [{ endpoint: "https://x", pricePerHour: "0", stake: "0.1" }, "pricePerHour", "invalid_amount"],
      [{ endpoint: "https://x", pricePerHour: "1e18", stake: "0.1" }, "pricePerHour", "invalid_amount"],
      [{ endpoint: "https://x", pricePerHour: "0.01", stake: "-1" }, "stake", "invalid_amount"],
    ];
    for (const [body, param, code] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { param: string; code: string } }).error).toMatchObject({ param, code });
    }
    const bad = await fetch(`${base}/nodes/api/register`, { method: "POST", body: "{" });
    expect(bad.status).toBe(400);
  });
});
