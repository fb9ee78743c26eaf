/**
 * The Gateway UI at `/nodes` (the docs: "Or use the Gateway UI at `/nodes`"): the marketplace's providers, and
 * a form that registers a node on-chain with the visitor's own wallet.
 *
 *   GET  /nodes                 the page (HTML; scripts only from /nodes/app.js under a strict CSP)
 *   GET  /nodes/app.js          the page's script: EIP-1193 wallet (window.ethereum), no build step
 *   GET  /nodes/api/providers   active providers from the indexer (what the gateway routes to)
 *   POST /nodes/api/register    {endpoint, attestation?, pricePerHour, stake, from?} in ETH → the transaction to
 *                               sign: {chainId, to, data, value}, plus the same as a `cast send` command
 *
 * The relayer never holds the visitor's key: it only encodes `register(string,string,uint256)` (viem) and checks
 * the input against the registry first (minimum stake, price bounds, already registered), so mistakes come back
 * as a 400 naming the field instead of a reverted transaction. Everything the page shows that came from the
 * chain or the indexer is inserted as text, never as HTML.
 */
import { computeRegistryAbi } from "@jeju/compute-sdk/abis/index";
import { Hono } from "hono";
import { type Address, encodeFunctionData, formatEther, isAddress, type PublicClient, parseEther } from "viem";
import type { ProviderDirectory } from "../gateway/directory.ts";
import type { Logger } from "../logger.ts";

export type NodesUiOptions = {
  publicClient: PublicClient;
  registry: Address;
  chainId: number;
  /** Where the list comes from; without it the list says the indexer is not configured. */
  directory?: ProviderDirectory;
  /** Shown in the `cast send` command (the chain's public RPC). */
  rpcUrl: string;
  log: Logger;
};

/** The contract's bound on prices (uint96). */
const MAX_PRICE = (1n << 96n) - 1n;

type FieldError = { status: 400 | 409 | 503; message: string; param: string | null; code: string };

const fail = (e: FieldError) => ({
  error: { message: e.message, type: "invalid_request_error", param: e.param, code: e.code },
});

function ethAmount(raw: unknown, param: string): bigint | FieldError {
  if (typeof raw !== "string" && typeof raw !== "number") {
    return { status: 400, message: `${param}: an amount in ETH is required`, param, code: "invalid_amount" };
  }
  const text = String(raw).trim();
  if (!/^\d+(\.\d{1,18})?$/.test(text)) {
    return {
      status: 400,
      message: `${param}: "${text.slice(0, 40)}" is not an amount in ETH (e.g. 0.1)`,
      param,
      code: "invalid_amount",
    };
  }
  return parseEther(text);
}

export function nodesRoutes(o: NodesUiOptions): Hono {
  const app = new Hono();

  app.get("/nodes", (c) => {
    c.header(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    c.header("X-Content-Type-Options", "nosniff");
    return c.html(PAGE);
  });
  app.get("/nodes/app.js", (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(APP_JS);
  });

  app.get("/nodes/api/providers", async (c) => {
    if (!o.directory)
      return c.json(
        fail({ status: 503, message: "no indexer configured", param: null, code: "indexer_unavailable" }),
        503,
      );
    let providers: Awaited<ReturnType<ProviderDirectory["providers"]>>;
    try {
      providers = await o.directory.providers();
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, "nodes ui: indexer unavailable");
      return c.json(
        fail({
          status: 503,
          message: "the indexer is not answering; try again shortly",
          param: null,
          code: "indexer_unavailable",
        }),
        503,
      );
    }
    return c.json({
      chainId: o.chainId,
      providers: providers.map((p) => ({
        address: p.address,
        endpoint: p.endpoint,
        active: p.active,
        stake: formatEther(p.stake),
        pricePerHour: formatEther(p.pricePerHour),
        gpus: p.hardware?.gpuCount ?? 0,
        gpuModel: p.hardware?.gpuModel ?? "",
        models: p.models.map((m) => m.name),
        lastHeartbeat: Number(p.lastHeartbeat),
      })),
    });
  });

  app.post("/nodes/api/register", async (c) => {
    let body: Record<string, unknown>;
    try {
      body = (await c.req.json()) as Record<string, unknown>;
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error("not an object");
    } catch {
      return c.json(
        fail({ status: 400, message: "the body must be a JSON object", param: null, code: "invalid_json" }),
        400,
      );
    }
    const checked = await checkRegistration(o, body);
    if ("status" in checked) return c.json(fail(checked), checked.status);
    const { endpoint, attestation, price, stake } = checked;
    const data = encodeFunctionData({
      abi: computeRegistryAbi,
      functionName: "register",
      args: [endpoint, attestation, price],
    });
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    return c.json({
      chainId: o.chainId,
      to: o.registry,
      data,
      value: `0x${stake.toString(16)}`,
      cast: [
        `cast send ${o.registry}`,
        `  "register(string,string,uint256)"`,
        `  ${q(endpoint)}`,
        `  ${q(attestation)}`,
        `  $(cast --to-wei ${formatEther(price)})`,
        `  --value ${formatEther(stake)}ether`,
        `  --rpc-url ${o.rpcUrl}`,
        "  --private-key $PRIVATE_KEY",
      ].join(" \\\n"),
    });
  });

  return app;
}

async function checkRegistration(
  o: NodesUiOptions,
  body: Record<string, unknown>,
): Promise<{ endpoint: string; attestation: string; price: bigint; stake: bigint } | FieldError> {
  const endpoint = typeof body.endpoint === "string" ? body.endpoint.trim() : "";
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) {
    return {
      status: 400,
      message: "endpoint: your node's public URL, e.g. https://mynode.example.com:4007",
      param: "endpoint",
      code: "invalid_endpoint",
    };
  }
  if (endpoint.length > 512)
    return { status: 400, message: "endpoint: at most 512 characters", param: "endpoint", code: "invalid_endpoint" };
  const attestation = typeof body.attestation === "string" ? body.attestation : "";
  if (attestation.length > 16_384) {
    return {
      status: 400,
      message: "attestation: at most 16384 characters",
      param: "attestation",
      code: "invalid_attestation",
    };
  }
  const price = ethAmount(body.pricePerHour, "pricePerHour");
  if (typeof price !== "bigint") return price;
  if (price === 0n || price > MAX_PRICE) {
    return {
      status: 400,
      message: "pricePerHour: more than 0 ETH per GPU-hour",
      param: "pricePerHour",
      code: "invalid_amount",
    };
  }
  const stake = ethAmount(body.stake, "stake");
  if (typeof stake !== "bigint") return stake;
  const minStake = await o.publicClient.readContract({
    address: o.registry,
    abi: computeRegistryAbi,
    functionName: "minStake",
  });
  if (stake < minStake) {
    return {
      status: 400,
      message: `stake: at least ${formatEther(minStake)} ETH`,
      param: "stake",
      code: "stake_too_low",
    };
  }
  if (typeof body.from === "string" && isAddress(body.from)) {
    const p = await o.publicClient.readContract({
      address: o.registry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [body.from],
    });
    if (p.registered) {
      return {
        status: 409,
        message: `${body.from} is already registered (endpoint ${p.endpoint})`,
        param: "from",
        code: "already_registered",
      };
    }
  }
  return { endpoint, attestation, price, stake };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Compute — nodes</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 24px; color: #111; }
  h1 { margin: 0 0 4px; } .sub { color: #555; margin: 0 0 24px; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 32px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
  td.endpoint { word-break: break-all; } .muted { color: #666; }
  form { display: grid; grid-template-columns: 180px 1fr; gap: 8px 12px; max-width: 640px; }
  input, textarea { font: inherit; padding: 4px 6px; } button { font: inherit; padding: 6px 14px; }
  #status { margin: 12px 0; white-space: pre-wrap; } .error { color: #b00020; } .ok { color: #0a7a2f; }
  pre { background: #f4f4f4; padding: 12px; overflow-x: auto; }
</style>
</head>
<body>
<h1>Compute nodes</h1>
<p class="sub">Providers serving the marketplace, and registration for your own node.</p>

<h2>Providers</h2>
<p id="list-status" class="muted">Loading…</p>
<table id="providers" hidden>
  <thead><tr><th>Provider</th><th>Endpoint</th><th>GPUs</th><th>Price / GPU-hour</th><th>Stake</th><th>Models</th><th>Last heartbeat</th></tr></thead>
  <tbody></tbody>
</table>

<h2>Register your node</h2>
<p>Start your node first (<code>npm run node</code>, see the README); then stake and register it with your wallet.</p>
<p><button id="connect" type="button">Connect wallet</button> <span id="account" class="muted">not connected</span></p>
<form id="register">
  <label for="endpoint">Endpoint</label><input id="endpoint" name="endpoint" placeholder="https://mynode.example.com:4007" required>
  <label for="price">Price (ETH / GPU-hour)</label><input id="price" name="pricePerHour" value="0.01" required>
  <label for="stake">Stake (ETH)</label><input id="stake" name="stake" value="0.1" required>
  <label for="attestation">TEE attestation (optional)</label><textarea id="attestation" name="attestation" rows="2"></textarea>
  <span></span><button id="submit" type="submit">Register</button>
</form>
<div id="status" role="status"></div>
<p class="muted">Or from a terminal (the same transaction):</p>
<pre id="cast">cast send …</pre>
<script src="/nodes/app.js"></script>
</body>
</html>
`;

const APP_JS = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let account;
  let mine;
  let busy = false;
  // Bumped by every check and by a registration, so an older check's answer never overwrites a newer status.
  let generation = 0;

  function setStatus(text, kind) {
    const el = $("status");
    el.textContent = text;
    el.className = kind || "";
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function ago(ts) {
    const s = Math.max(0, Math.floor(Date.now() / 1000) - ts);
    return s < 120 ? s + " s ago" : s < 7200 ? Math.floor(s / 60) + " min ago" : Math.floor(s / 3600) + " h ago";
  }

  async function loadProviders() {
    const res = await fetch("/nodes/api/providers");
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      $("list-status").textContent = (body.error && body.error.message) || "could not load providers";
      return [];
    }
    const tbody = $("providers").querySelector("tbody");
    tbody.replaceChildren();
    for (const p of body.providers) {
      const tr = document.createElement("tr");
      tr.dataset.address = p.address.toLowerCase();
      tr.append(
        cell(p.address),
        cell(p.endpoint, "endpoint"),
        cell(p.gpus + (p.gpuModel ? " × " + p.gpuModel : "")),
        cell(p.pricePerHour + " ETH"),
        cell(p.stake + " ETH"),
        cell(p.models.join(", ") || "—"),
        cell(ago(p.lastHeartbeat)),
      );
      if (mine && p.address.toLowerCase() === mine) tr.style.background = "#eaf7ee";
      tbody.append(tr);
    }
    $("providers").hidden = body.providers.length === 0;
    $("list-status").textContent = body.providers.length === 0 ? "No active providers yet." : body.providers.length + " active provider(s)";
    return body.providers;
  }

  function formBody() {
    const f = $("register");
    return {
      endpoint: f.endpoint.value,
      pricePerHour: f.pricePerHour.value,
      stake: f.stake.value,
      attestation: f.attestation.value,
      from: account,
    };
  }
  async function prepare() {
    const res = await fetch("/nodes/api/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(formBody()),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || "HTTP " + res.status);
    $("cast").textContent = body.cast;
    return body;
  }

  async function connect() {
    if (!window.ethereum) {
      setStatus("No wallet found in this browser (an EIP-1193 wallet such as MetaMask). Use the cast command below instead.", "error");
      return undefined;
    }
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    account = accounts[0];
    $("account").textContent = account;
    return account;
  }

  async function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }

  async function register(ev) {
    ev.preventDefault();
    $("submit").disabled = true;
    busy = true;
    generation++;
    try {
      if (!account && !(await connect())) return;
      setStatus("Checking…");
      const tx = await prepare();
      const chainId = parseInt(await window.ethereum.request({ method: "eth_chainId" }), 16);
      if (chainId !== tx.chainId) {
        await window.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: "0x" + tx.chainId.toString(16) }] });
      }
      setStatus("Confirm the transaction in your wallet…");
      const hash = await window.ethereum.request({
        method: "eth_sendTransaction",
        params: [{ from: account, to: tx.to, data: tx.data, value: tx.value }],
      });
      setStatus("Sent " + hash + ", waiting for it to be mined…");
      let receipt = null;
      for (let i = 0; i < 300 && !receipt; i++) {
        receipt = await window.ethereum.request({ method: "eth_getTransactionReceipt", params: [hash] });
        if (!receipt) await sleep(1000);
      }
      if (!receipt) throw new Error("not mined after 5 minutes: check " + hash + " in your wallet");
      if (receipt.status !== "0x1") throw new Error("the registration reverted (" + hash + ")");
      mine = account.toLowerCase();
      setStatus("Registered in block " + parseInt(receipt.blockNumber, 16) + " (" + hash + "). Your node appears below once the indexer has it.", "ok");
      for (let i = 0; i < 60; i++) {
        const list = await loadProviders();
        if (list.some((p) => p.address.toLowerCase() === mine)) return;
        await sleep(1000);
      }
    } catch (err) {
      setStatus((err && err.message) || String(err), "error");
    } finally {
      busy = false;
      $("submit").disabled = false;
    }
  }

  $("connect").addEventListener("click", () => connect().catch((err) => setStatus(err.message || String(err), "error")));
  $("register").addEventListener("submit", register);
  // Live check of the form (and the cast command) as it changes; a registration in progress owns the status line.
  $("register").addEventListener("change", () => {
    const g = ++generation;
    const current = () => g === generation && !busy;
    prepare().then(
      () => current() && setStatus(""),
      (err) => current() && setStatus(err.message, "error"),
    );
  });
  loadProviders().catch((err) => ($("list-status").textContent = err.message));
})();
`;
