/**
 * ComputeClient: rent GPUs from a Compute node (or the marketplace gateway) with a viem wallet.
 *
 * ```ts
 * const compute = new ComputeClient({ endpoint: "http://127.0.0.1:4007", wallet });
 * const session = await compute.createSession({ providerId, durationHours: 24, sshPublicKey, gpuCount: 2 });
 * console.log(session.ssh); // { host, port, username }
 * const refund = await compute.endSession(session.id);
 * ```
 *
 * Chain id and contract addresses come from `GET {endpoint}/v1/network`. Prices come from the contract's `quote`.
 * Payment is on-chain (ETH with the exact `msg.value`, or an ERC-20 after `approve`), or gasless: a USDC
 * `ReceiveWithAuthorization` whose nonce binds the session terms, relayed by the endpoint to the relayer.
 */
import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  erc20Abi,
  getAddress,
  type Hash,
  http,
  isAddress,
  type PublicClient,
  parseEventLogs,
  type Transport,
  type WalletClient,
  zeroAddress,
} from "viem";
import { computeRegistryAbi, computeRentalAbi, localUsdcAbi } from "../abis/index.ts";
import type { TypedDataSigner } from "../x402/eip3009.ts";
import { signEndSession, signGaslessSession } from "../x402/sessions.ts";
import {
  apiErrorFromResponse,
  ComputeApiError,
  ComputeError,
  ComputeSessionError,
  ComputeTimeoutError,
  computeErrorsAbi,
  decodeComputeError,
} from "./errors.ts";
import type {
  ComputeClientOptions,
  CreateSessionParameters,
  CreateSessionReturnType,
  CancelSessionDetails,
  EndSessionDetails,
  ExtendSessionDetails,
  EndSessionParameters,
  NetworkInfo,
  Provider,
  ProviderFilters,
  Session,
  SessionStatus,
  SshInfo,
} from "./types.ts";

type AnyWalletClient = WalletClient<Transport, Chain | undefined, Account>;

type Context = {
  net: NetworkInfo;
  chain: Chain;
  publicClient: PublicClient;
  walletClient: AnyWalletClient;
  account: Account;
  signer: TypedDataSigner;
};

/** Gas units assumed when deciding whether the wallet can pay for a transaction itself. */
const CREATE_GAS = 400_000n;
const END_GAS = 200_000n;
/** Lifetime of the signatures the client makes (gasless authorization, EndSession), in seconds. */
const SIGNATURE_TTL = 600n;
/** An OpenSSH public key line without comment (what a node publishes as its host key). */
const HOST_KEY_LINE = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/;

const STATUSES = ["none", "pending", "active", "ended", "rejected", "cancelled"] as const;

export type SessionId = string | number | bigint;

/** `provider-0x…` or a bare address → checksummed address. */
export function parseProviderId(providerId: string): Address {
  const raw = providerId.startsWith("provider-") ? providerId.slice("provider-".length) : providerId;
  if (!isAddress(raw, { strict: false })) {
    throw new ComputeError(
      "invalid_provider_id",
      `Invalid provider id '${providerId}': expected provider-0x… or an address.`,
    );
  }
  return getAddress(raw);
}

function sessionIdOf(id: SessionId): bigint {
  const s = String(id).trim();
  if (!/^\d+$/.test(s)) throw new ComputeError("invalid_session_id", `Invalid session id '${String(id)}'.`);
  return BigInt(s);
}

function isWalletClient(w: unknown): w is AnyWalletClient {
  return (
    typeof w === "object" &&
    w !== null &&
    "transport" in w &&
    typeof (w as { request?: unknown }).request === "function"
  );
}

const big = (v: unknown): bigint =>
  v === undefined || v === null || v === "" ? 0n : BigInt(v as string | number | bigint);
const num = (v: unknown): number | null => {
  if (v === undefined || v === null || v === "" || v === 0 || v === "0") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** The node's session JSON (bigints as strings) → {@link Session}. Also reads relayer/contract-shaped records. */
export function parseSession(j: Record<string, unknown>): Session {
  const rawStatus = j.status;
  const status = (
    typeof rawStatus === "number" ? STATUSES[rawStatus] : String(rawStatus ?? "").toLowerCase()
  ) as SessionStatus;
  const ssh = j.ssh as Partial<SshInfo> | null | undefined;
  return {
    id: String(j.id ?? j.sessionId),
    status,
    provider: getAddress(String(j.provider)),
    renter: getAddress(String(j.renter)),
    token: getAddress(String(j.token ?? zeroAddress)),
    gpuCount: Number(j.gpuCount ?? 0),
    durationHours: Number(j.durationHours ?? 0),
    ratePerHour: big(j.ratePerHour),
    prepaid: big(j.prepaid),
    used: big(j.used),
    refundableNow: big(j.refundableNow),
    createdAt: num(j.createdAt),
    activatedAt: num(j.activatedAt ?? j.startedAt),
    expiresAt: num(j.expiresAt),
    endedAt: num(j.endedAt),
    ssh:
      ssh && typeof ssh.host === "string" && ssh.port !== undefined && typeof ssh.username === "string"
        ? { host: ssh.host, port: Number(ssh.port), username: ssh.username }
        : null,
  };
}

function walletRequired(): ComputeError {
  return new ComputeError("wallet_required", "This needs a wallet: pass `wallet` to ComputeClient.");
}

export class ComputeClient {
  readonly endpoint: string;
  readonly #options: ComputeClientOptions;
  readonly #fetch: typeof fetch;
  #context: Promise<Context> | undefined;

  constructor(options: ComputeClientOptions) {
    if (!options?.endpoint) throw new ComputeError("invalid_options", "ComputeClient: `endpoint` is required.");
    if (isWalletClient(options.wallet) && !options.wallet.account) {
      throw new ComputeError("invalid_options", "ComputeClient: the wallet client has no account.");
    }
    this.endpoint = options.endpoint.replace(/\/+$/, "");
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** The renter's address. */
  get address(): Address {
    const w = this.#options.wallet;
    if (!w) throw walletRequired();
    return isWalletClient(w) ? w.account.address : w.address;
  }

  // ------------------------------------------------------------------------------------------------ discovery

  /** `GET {endpoint}/v1/network`: chain id and contract addresses (cached). */
  async network(): Promise<NetworkInfo> {
    return (await this.#ctx()).net;
  }

  #ctx(): Promise<Context> {
    this.#context ??= this.#connect().catch((err: unknown) => {
      this.#context = undefined; // retry on the next call
      throw err;
    });
    return this.#context;
  }

  async #connect(): Promise<Context> {
    const raw = await this.#api<Record<string, unknown>>("GET", "/v1/network", undefined, "network discovery");
    const contracts = (raw.contracts ?? {}) as Record<string, string>;
    if (typeof raw.chainId !== "number" || !contracts.ComputeRental || !contracts.ComputeRegistry) {
      throw new ComputeApiError({
        status: 200,
        code: "invalid_network",
        message: `${this.endpoint}/v1/network: missing chainId or contracts.`,
      });
    }
    const net: NetworkInfo = {
      chainId: raw.chainId,
      contracts: {
        ComputeRegistry: getAddress(contracts.ComputeRegistry),
        ComputeRental: getAddress(contracts.ComputeRental),
        USDC: getAddress(contracts.USDC ?? zeroAddress),
      },
      relayer: (raw.relayer as string | null | undefined) ?? null,
      provider: (raw.provider as string | null | undefined) ?? null,
      ssh: (raw.ssh as NetworkInfo["ssh"]) ?? null,
      rpcUrl: (raw.rpcUrl as string | null | undefined) ?? null,
      startBlock: typeof raw.startBlock === "number" ? raw.startBlock : null,
    };
    const wallet = this.#options.wallet;
    if (!wallet) throw walletRequired();
    const walletUrl = isWalletClient(wallet) ? (wallet.transport as { url?: string }).url : undefined;
    const rpcUrl = this.#options.rpcUrl ?? walletUrl ?? net.rpcUrl ?? "http://127.0.0.1:8545";
    const chain =
      isWalletClient(wallet) && wallet.chain?.id === net.chainId
        ? wallet.chain
        : defineChain({
            id: net.chainId,
            name: `chain ${net.chainId}`,
            nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
            rpcUrls: { default: { http: [rpcUrl] } },
          });
    const transport =
      this.#options.rpcUrl !== undefined || !isWalletClient(wallet)
        ? http(rpcUrl)
        : custom({ request: (args) => wallet.request(args as never) });
    const publicClient = createPublicClient({
      chain,
      transport,
    }) as PublicClient;
    const walletClient: AnyWalletClient = isWalletClient(wallet)
      ? wallet
      : (createWalletClient({ account: wallet, chain, transport: http(rpcUrl) }) as AnyWalletClient);
    const account = walletClient.account;
    if (isWalletClient(wallet)) {
      const id = await publicClient.getChainId();
      if (id !== net.chainId) {
        throw new ComputeError(
          "chain_mismatch",
          `The wallet's RPC is on chain ${id}, but ${this.endpoint} is on chain ${net.chainId}.`,
        );
      }
    }
    const signer: TypedDataSigner = {
      address: account.address,
      signTypedData: (args) => walletClient.signTypedData({ account, ...args } as never),
    };
    return { net, chain, publicClient, walletClient, account, signer };
  }

  // ------------------------------------------------------------------------------------------------ HTTP

  async #api<T>(method: string, path: string, body: unknown, what: string, base = this.endpoint): Promise<T> {
    let res: Response;
    const url = `${base}${path}`;
    try {
      res = await this.#fetch(url, {
        method,
        headers:
          body === undefined
            ? { accept: "application/json" }
            : {
                "content-type": "application/json",
                accept: "application/json",
              },
        body:
          body === undefined ? undefined : JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
      });
    } catch (err) {
      throw new ComputeApiError({
        status: 0,
        code: "unreachable",
        message: `${what}: cannot reach ${base} (${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)})`,
      });
    }
    if (!res.ok) throw await apiErrorFromResponse(res, what);
    return (await res.json()) as T;
  }

  // ------------------------------------------------------------------------------------------------ reads

  /** `GET /v1/providers` with the node's filters. */
  async listProviders(filters: ProviderFilters = {}): Promise<Provider[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, String(v));
    const qs = q.size > 0 ? `?${q}` : "";
    const res = await this.#api<{ data: Provider[] }>("GET", `/v1/providers${qs}`, undefined, "list providers");
    return res.data;
  }

  /** `GET /v1/sessions/:id` from the endpoint (status, times, amounts, ssh). */
  async getSession(id: SessionId): Promise<Session> {
    const sid = sessionIdOf(id);
    const raw = await this.#api<Record<string, unknown>>("GET", `/v1/sessions/${sid}`, undefined, `session ${sid}`);
    return parseSession(raw);
  }

  /** The exact cost of a session: `ComputeRental.quote(provider, token, gpuCount, durationHours)`. */
  async quote(p: {
    providerId: string;
    durationHours: number;
    gpuCount: number;
    paymentToken?: Address;
  }): Promise<bigint> {
    const ctx = await this.#ctx();
    return this.#read(ctx, "quote", [
      parseProviderId(p.providerId),
      p.paymentToken ? getAddress(p.paymentToken) : zeroAddress,
      BigInt(p.gpuCount),
      BigInt(p.durationHours),
    ]) as Promise<bigint>;
  }

  /** Withdrawable credits of the wallet in `token` (address(0): ETH). */
  async credits(token: Address = zeroAddress): Promise<bigint> {
    const ctx = await this.#ctx();
    return (await this.#read(ctx, "credits", [ctx.account.address, getAddress(token)])) as bigint;
  }

  // ------------------------------------------------------------------------------------------------ create

  /** Creates (and pays for) a session, waits until the provider activates it, and returns it with its ssh info. */
  async createSession(p: CreateSessionParameters): Promise<CreateSessionReturnType> {
    const progress = p.onProgress ?? (() => {});
    if (!Number.isSafeInteger(p.durationHours) || p.durationHours <= 0) {
      throw new ComputeError("invalid_duration", "durationHours must be a positive integer.");
    }
    if (!Number.isSafeInteger(p.gpuCount) || p.gpuCount < 0) {
      throw new ComputeError("invalid_gpu_count", "gpuCount must be a non-negative integer.");
    }
    const ctx = await this.#ctx();
    const provider = parseProviderId(p.providerId);
    const usdc = ctx.net.contracts.USDC;
    const token = p.paymentToken ? getAddress(p.paymentToken) : p.gasless ? usdc : zeroAddress;
    if (p.gasless && (token !== usdc || usdc === zeroAddress)) {
      throw new ComputeError(
        "gasless_requires_usdc",
        "Gasless sessions are paid in USDC (the relayer's authorization token).",
      );
    }
    progress("quoting");
    const hours = BigInt(p.durationHours);
    const gpus = BigInt(p.gpuCount);
    const cost = (await this.#read(ctx, "quote", [provider, token, gpus, hours])) as bigint;
    const gasless = p.gasless ?? (token !== zeroAddress && token === usdc && !(await this.#canPayGas(ctx, CREATE_GAS)));

    let sessionId: string;
    let txHash: Hash;
    if (gasless) {
      ({ sessionId, txHash } = await this.#createGasless(ctx, {
        provider,
        hours,
        gpus,
        cost,
        sshPublicKey: p.sshPublicKey,
        providerId: p.providerId,
        progress,
      }));
    } else {
      ({ sessionId, txHash } = await this.#createOnchain(ctx, {
        provider,
        hours,
        gpus,
        cost,
        token,
        sshPublicKey: p.sshPublicKey,
        progress,
      }));
    }
    progress("confirmed", { txHash, sessionId });
    progress("provisioning", { sessionId });
    const session = await this.waitForSession(sessionId, {
      timeoutMs: p.timeoutMs,
      pollIntervalMs: p.pollIntervalMs,
    });
    progress("active", { sessionId });
    return { ...session, ssh: session.ssh as SshInfo, txHash, gasless };
  }

  async #createOnchain(
    ctx: Context,
    a: {
      provider: Address;
      hours: bigint;
      gpus: bigint;
      cost: bigint;
      token: Address;
      sshPublicKey: string;
      progress: NonNullable<CreateSessionParameters["onProgress"]>;
    },
  ): Promise<{ sessionId: string; txHash: Hash }> {
    const rental = ctx.net.contracts.ComputeRental;
    if (a.token !== zeroAddress) await this.#approve(ctx, a.token, rental, a.cost, () => a.progress("approving"));
    a.progress("submitting");
    const { hash, logs } = await this.#write(ctx, {
      address: rental,
      abi: computeRentalAbi,
      functionName: "createSession",
      args: [a.provider, a.hours, a.sshPublicKey, a.gpus, a.token],
      value: a.token === zeroAddress ? a.cost : 0n,
    });
    const [ev] = parseEventLogs({
      abi: computeRentalAbi,
      eventName: "SessionCreated",
      logs,
    });
    if (!ev) throw new ComputeError("event_missing", `No SessionCreated event in ${hash}.`);
    return { sessionId: ev.args.sessionId.toString(), txHash: hash };
  }

  async #createGasless(
    ctx: Context,
    a: {
      provider: Address;
      hours: bigint;
      gpus: bigint;
      cost: bigint;
      sshPublicKey: string;
      providerId: string;
      progress: NonNullable<CreateSessionParameters["onProgress"]>;
    },
  ): Promise<{ sessionId: string; txHash: Hash }> {
    const usdc = ctx.net.contracts.USDC;
    a.progress("signing");
    const domain = await this.#tokenDomain(ctx, usdc);
    const body = await signGaslessSession({
      signer: ctx.signer,
      token: domain,
      rental: ctx.net.contracts.ComputeRental,
      provider: a.provider,
      durationHours: a.hours,
      sshPublicKey: a.sshPublicKey,
      gpuCount: a.gpus,
      value: a.cost,
      validBefore: (await this.#chainNow(ctx)) + SIGNATURE_TTL,
    });
    a.progress("relaying");
    const base = this.#options.relayerUrl?.replace(/\/+$/, "") ?? this.endpoint;
    const res = await this.#api<Record<string, unknown>>(
      "POST",
      "/v1/sessions",
      { ...body, providerId: a.providerId, paymentToken: usdc },
      "gasless session",
      base,
    );
    const sessionId = res.sessionId ?? res.id;
    const txHash = res.transaction ?? res.txHash;
    if (sessionId === undefined || typeof txHash !== "string") {
      throw new ComputeApiError({
        status: 200,
        code: "invalid_response",
        message: "gasless session: the response has no sessionId/transaction.",
      });
    }
    return { sessionId: String(sessionId), txHash: txHash as Hash };
  }

  /** Polls `GET /v1/sessions/:id` until the session is active (with ssh info); throws if it is refused. */
  async waitForSession(id: SessionId, opts: { timeoutMs?: number; pollIntervalMs?: number } = {}): Promise<Session> {
    const sid = sessionIdOf(id);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const interval = opts.pollIntervalMs ?? 500;
    const deadline = Date.now() + timeoutMs;
    let last: Session | undefined;
    for (;;) {
      try {
        last = await this.getSession(sid);
        if (last.status === "active" && last.ssh) return last;
        if (last.status === "rejected" || last.status === "cancelled" || last.status === "ended") {
          throw new ComputeSessionError(
            sid.toString(),
            last.status,
            `Session ${sid} was ${last.status} before it became active${last.status === "rejected" ? " (prepaid amount refunded to your credits)" : ""}.`,
          );
        }
      } catch (err) {
        // The endpoint may not have seen the session yet.
        if (!(err instanceof ComputeApiError && (err.status === 404 || err.status >= 500 || err.status === 0)))
          throw err;
      }
      if (Date.now() >= deadline) {
        throw new ComputeTimeoutError(
          `Session ${sid} is not active after ${Math.round(timeoutMs / 1000)} s (status: ${last?.status ?? "unknown"}). It stays open: check it with getSession, or cancel it once the provision timeout passes (cancelSession, or: compute cancel ${sid}): full refund, and the provider is slashed.`,
        );
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  /**
   * The SSH host key (`ssh-ed25519 AAAA…`) the provider published on-chain when it activated the session, read
   * from the chain (not from the provider's API), or undefined when it published none. `compute ssh` pins it.
   */
  async sshHostKey(id: SessionId): Promise<string | undefined> {
    const ctx = await this.#ctx();
    const logs = await ctx.publicClient.getContractEvents({
      address: ctx.net.contracts.ComputeRental,
      abi: computeRentalAbi,
      eventName: "SessionActivated",
      args: { sessionId: sessionIdOf(id) },
      fromBlock: BigInt(ctx.net.startBlock ?? 0),
      strict: true,
    });
    const connection = logs.at(-1)?.args.connection;
    if (connection === undefined) return undefined;
    try {
      const hostKey = (JSON.parse(connection) as { hostKey?: unknown }).hostKey;
      return typeof hostKey === "string" && HOST_KEY_LINE.test(hostKey) ? hostKey : undefined;
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------------------------------------------ end

  /** Ends a session early and returns the refund (wei / token units). */
  async endSession(id: SessionId, opts: EndSessionParameters = {}): Promise<bigint> {
    return (await this.endSessionDetailed(id, opts)).refund;
  }

  /** {@link endSession} with the transaction, token and where the refund went. */
  async endSessionDetailed(id: SessionId, opts: EndSessionParameters = {}): Promise<EndSessionDetails> {
    const ctx = await this.#ctx();
    const sid = sessionIdOf(id);
    const rental = ctx.net.contracts.ComputeRental;
    const gasless = opts.gasless ?? !(await this.#canPayGas(ctx, END_GAS));
    if (!gasless) {
      const { hash, logs } = await this.#write(ctx, {
        address: rental,
        abi: computeRentalAbi,
        functionName: "endSession",
        args: [sid],
      });
      const [ev] = parseEventLogs({
        abi: computeRentalAbi,
        eventName: "SessionEnded",
        logs,
      });
      if (!ev) throw new ComputeError("event_missing", `No SessionEnded event in ${hash}.`);
      return {
        id: sid.toString(),
        refund: ev.args.refund,
        token: ev.args.token,
        txHash: hash,
        gasless: false,
        refundCredited: true,
      };
    }
    const nonce = (await this.#read(ctx, "nonces", [ctx.account.address])) as bigint;
    const signed = await signEndSession({
      signer: ctx.signer,
      chainId: ctx.net.chainId,
      rental,
      sessionId: sid,
      nonce,
      deadline: (await this.#chainNow(ctx)) + SIGNATURE_TTL,
    });
    const base = this.#options.relayerUrl?.replace(/\/+$/, "") ?? this.endpoint;
    const res = await this.#api<Record<string, unknown>>(
      "DELETE",
      `/v1/sessions/${sid}`,
      signed,
      `end session ${sid}`,
      base,
    );
    const txHash = String(res.txHash ?? res.transaction) as Hash;
    const receipt = await ctx.publicClient.waitForTransactionReceipt({
      hash: txHash,
    });
    const [ended] = parseEventLogs({
      abi: computeRentalAbi,
      eventName: "SessionEnded",
      logs: receipt.logs,
    });
    const pushed = parseEventLogs({
      abi: computeRentalAbi,
      eventName: "Withdrawn",
      logs: receipt.logs,
    }).some(
      (l) => l.address.toLowerCase() === rental.toLowerCase() && getAddress(l.args.account) === ctx.account.address,
    );
    const refund = ended ? ended.args.refund : big(res.refund);
    return {
      id: sid.toString(),
      refund,
      token: ended ? ended.args.token : getAddress(String(res.token ?? zeroAddress)),
      txHash,
      gasless: true,
      refundCredited: refund > 0n && !pushed,
    };
  }

  /**
   * Pays for `hours` more of a pending or active session, at the rate it was created with and in its token
   * (approving the exact amount first for ERC-20). The provider's node moves its expiry when it sees the event.
   */
  async extendSession(id: SessionId, hours: number): Promise<ExtendSessionDetails> {
    if (!Number.isSafeInteger(hours) || hours <= 0) {
      throw new ComputeError("invalid_duration", "hours must be a positive integer.");
    }
    const ctx = await this.#ctx();
    const sid = sessionIdOf(id);
    const rental = ctx.net.contracts.ComputeRental;
    const s = (await this.#read(ctx, "getSession", [sid])) as { token: Address; ratePerHour: bigint; gpuCount: bigint };
    // BillingLib.prepaid: rate × max(gpus, 1) × hours.
    const cost = s.ratePerHour * (s.gpuCount === 0n ? 1n : s.gpuCount) * BigInt(hours);
    if (s.token !== zeroAddress) await this.#approve(ctx, s.token, rental, cost);
    const { hash, logs } = await this.#write(ctx, {
      address: rental,
      abi: computeRentalAbi,
      functionName: "extendSession",
      args: [sid, BigInt(hours)],
      value: s.token === zeroAddress ? cost : 0n,
    });
    const [ev] = parseEventLogs({ abi: computeRentalAbi, eventName: "SessionExtended", logs });
    if (!ev) throw new ComputeError("event_missing", `No SessionExtended event in ${hash}.`);
    return {
      id: sid.toString(),
      addedHours: Number(ev.args.addedHours),
      paid: ev.args.addedPrepaid,
      token: ev.args.token,
      durationHours: Number(ev.args.newDurationHours),
      prepaid: ev.args.newPrepaid,
      expiresAt: Number(ev.args.newExpiresAt),
      txHash: hash,
    };
  }

  /** Approves `amount` of `token` to `spender` unless the allowance already covers it. */
  async #approve(ctx: Context, token: Address, spender: Address, amount: bigint, before?: () => void): Promise<void> {
    const allowance = await ctx.publicClient.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "allowance",
      args: [ctx.account.address, spender],
    });
    if (allowance >= amount) return;
    before?.();
    await this.#write(ctx, { address: token, abi: erc20Abi, functionName: "approve", args: [spender, amount] });
  }

  /**
   * Cancels a session its provider never started, once the provision timeout has passed
   * (`ProvisionTimeoutNotReached` before): the prepaid amount is credited back in full and the provider's stake
   * is slashed, the slashed wei credited to the renter in the registry ({@link withdrawCompensation}).
   */
  async cancelSession(id: SessionId): Promise<CancelSessionDetails> {
    const ctx = await this.#ctx();
    const sid = sessionIdOf(id);
    const { hash, logs } = await this.#write(ctx, {
      address: ctx.net.contracts.ComputeRental,
      abi: computeRentalAbi,
      functionName: "cancelSession",
      args: [sid],
    });
    const [ev] = parseEventLogs({ abi: computeRentalAbi, eventName: "SessionCancelled", logs });
    if (!ev) throw new ComputeError("event_missing", `No SessionCancelled event in ${hash}.`);
    return { id: sid.toString(), refund: ev.args.refund, token: ev.args.token, slashed: ev.args.slashed, txHash: hash };
  }

  /** Wei the registry holds for this wallet: slashes paid to it as a renter, downtime-report rewards. */
  async compensation(): Promise<bigint> {
    const ctx = await this.#ctx();
    return ctx.publicClient.readContract({
      address: ctx.net.contracts.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "credits",
      args: [ctx.account.address],
    });
  }

  /** Withdraws {@link compensation} to the wallet; returns the amount (0 when there was none). */
  async withdrawCompensation(): Promise<bigint> {
    if ((await this.compensation()) === 0n) return 0n;
    const ctx = await this.#ctx();
    const { logs } = await this.#write(ctx, {
      address: ctx.net.contracts.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "withdraw",
      args: [],
    });
    const [ev] = parseEventLogs({ abi: computeRegistryAbi, eventName: "Withdrawn", logs });
    return ev?.args.amount ?? 0n;
  }

  /**
   * Reports a provider whose last heartbeat is over 4 hours old (anyone may): it is deactivated and slashed, and
   * the reporter's share is credited to this wallet in the registry ({@link withdrawCompensation}).
   * `ProviderNotDown` before then.
   */
  async reportDowntime(
    providerId: string,
  ): Promise<{ provider: Address; slashed: bigint; reward: bigint; txHash: Hash }> {
    const ctx = await this.#ctx();
    const provider = parseProviderId(providerId);
    const { hash, logs } = await this.#write(ctx, {
      address: ctx.net.contracts.ComputeRegistry,
      abi: computeRegistryAbi,
      functionName: "reportDowntime",
      args: [provider],
    });
    const [ev] = parseEventLogs({ abi: computeRegistryAbi, eventName: "ProviderSlashed", logs });
    return { provider, slashed: ev?.args.amount ?? 0n, reward: ev?.args.reporterReward ?? 0n, txHash: hash };
  }

  /** Withdraws the wallet's credits in `token` (address(0): ETH); returns the amount. */
  async withdraw(token: Address = zeroAddress): Promise<bigint> {
    const ctx = await this.#ctx();
    const { logs } = await this.#write(ctx, {
      address: ctx.net.contracts.ComputeRental,
      abi: computeRentalAbi,
      functionName: "withdraw",
      args: [getAddress(token)],
    });
    const [ev] = parseEventLogs({
      abi: computeRentalAbi,
      eventName: "Withdrawn",
      logs,
    });
    return ev?.args.amount ?? 0n;
  }

  // ------------------------------------------------------------------------------------------------ chain

  async #read(ctx: Context, functionName: string, args: readonly unknown[]): Promise<unknown> {
    try {
      return await ctx.publicClient.readContract({
        address: ctx.net.contracts.ComputeRental,
        abi: [...computeRentalAbi, ...computeErrorsAbi],
        functionName,
        args,
      } as never);
    } catch (err) {
      throw decodeComputeError(err, functionName);
    }
  }

  /** Simulates (so reverts surface as decoded custom errors without spending gas), sends, waits for the receipt. */
  async #write(
    ctx: Context,
    call: {
      address: Address;
      abi: readonly unknown[];
      functionName: string;
      args: readonly unknown[];
      value?: bigint;
    },
  ): Promise<{ hash: Hash; logs: import("viem").Log[] }> {
    const abi = [...(call.abi as never[]), ...(computeErrorsAbi as never[])];
    let hash: Hash;
    try {
      const { request } = await ctx.publicClient.simulateContract({
        address: call.address,
        abi,
        functionName: call.functionName,
        args: call.args,
        value: call.value,
        account: ctx.account,
      } as never);
      hash = await ctx.walletClient.writeContract({
        ...(request as object),
        chain: ctx.chain,
        account: ctx.account,
      } as never);
    } catch (err) {
      throw decodeComputeError(err, call.functionName);
    }
    const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") {
      throw new ComputeError("transaction_reverted", `${call.functionName} reverted (transaction ${hash}).`);
    }
    return { hash, logs: receipt.logs };
  }

  /** The later of wall-clock and the latest block's time: signature windows are checked against the chain. */
  async #chainNow(ctx: Context): Promise<bigint> {
    const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
    const wall = BigInt(Math.floor(Date.now() / 1000));
    return block.timestamp > wall ? block.timestamp : wall;
  }

  async #canPayGas(ctx: Context, gas: bigint): Promise<boolean> {
    const [balance, gasPrice] = await Promise.all([
      ctx.publicClient.getBalance({ address: ctx.account.address }),
      ctx.publicClient.getGasPrice(),
    ]);
    return balance >= gas * gasPrice;
  }

  async #tokenDomain(
    ctx: Context,
    token: Address,
  ): Promise<{
    name: string;
    version: string;
    chainId: number;
    verifyingContract: Address;
  }> {
    try {
      const [, name, version] = await ctx.publicClient.readContract({
        address: token,
        abi: localUsdcAbi,
        functionName: "eip712Domain",
      });
      return {
        name,
        version,
        chainId: ctx.net.chainId,
        verifyingContract: token,
      };
    } catch {
      return {
        name: "USD Coin",
        version: "2",
        chainId: ctx.net.chainId,
        verifyingContract: token,
      };
    }
  }
}
