/**
 * What this machine offers renters and the registry: CPU, memory, disk, GPUs (nvidia-smi when present)
 * and TEE devices. Detection runs once; the result is cached.
 */
import { execFile } from "node:child_process";
import { access, statfs } from "node:fs/promises";
import os from "node:os";

export type GpuInfo = {
  index: number;
  name: string;
  uuid: string | null;
  memory_total_mib: number | null;
  memory_free_mib: number | null;
  driver_version: string | null;
  compute_capability: string | null;
};

export type TeeType = "tdx" | "sev-snp" | "sev" | "sgx" | "nvidia-cc";

export type HardwareInfo = {
  cpu: { model: string; cores: number; arch: string; speed_mhz: number | null };
  memory: { total_bytes: number; free_bytes: number };
  disk: { path: string; total_bytes: number; free_bytes: number } | null;
  gpus: GpuInfo[];
  tee: { available: boolean; types: TeeType[]; devices: string[] };
  os: { platform: string; release: string };
  detected_at: number;
};

export const GPU_QUERY_FIELDS = [
  "index",
  "name",
  "uuid",
  "memory.total",
  "memory.free",
  "driver_version",
  "compute_cap",
];

/** TEE guest devices and what each one means. */
export const TEE_DEVICES: ReadonlyArray<{ path: string; type: TeeType }> = [
  { path: "/dev/tdx_guest", type: "tdx" },
  { path: "/dev/tdx-guest", type: "tdx" },
  { path: "/dev/sev-guest", type: "sev-snp" },
  { path: "/dev/sev", type: "sev" },
  { path: "/dev/sgx_enclave", type: "sgx" },
  { path: "/dev/sgx/enclave", type: "sgx" },
];

export type Exec = (file: string, args: string[]) => Promise<string>;

const execText: Exec = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 5_000, encoding: "utf8" }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });

const num = (s: string | undefined): number | null => {
  if (s === undefined) return null;
  const v = Number(s.trim());
  return s.trim() === "" || Number.isNaN(v) ? null : v;
};
const str = (s: string | undefined): string | null => {
  const t = s?.trim();
  return t === undefined || t === "" || t === "[N/A]" || t === "N/A" ? null : t;
};

/** Parse `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of output.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split(",");
    gpus.push({
      index: num(f[0]) ?? gpus.length,
      name: str(f[1]) ?? "unknown",
      uuid: str(f[2]),
      memory_total_mib: num(f[3]),
      memory_free_mib: num(f[4]),
      driver_version: str(f[5]),
      compute_capability: str(f[6]),
    });
  }
  return gpus;
}

async function detectGpus(exec: Exec): Promise<GpuInfo[]> {
  try {
    return parseNvidiaSmi(
      await exec("nvidia-smi", [`--query-gpu=${GPU_QUERY_FIELDS.join(",")}`, "--format=csv,noheader,nounits"]),
    );
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function detectTee(exec: Exec, hasGpu: boolean): Promise<HardwareInfo["tee"]> {
  const devices: string[] = [];
  const types = new Set<TeeType>();
  for (const d of TEE_DEVICES) {
    if (await exists(d.path)) {
      devices.push(d.path);
      types.add(d.type);
    }
  }
  if (hasGpu) {
    try {
      const out = await exec("nvidia-smi", ["conf-compute", "-f"]);
      if (/CC status:\s*ON/i.test(out)) types.add("nvidia-cc");
    } catch {
      // Driver without confidential-computing support.
    }
  }
  return { available: types.size > 0, types: [...types], devices };
}

export type DetectOptions = { exec?: Exec; diskPath?: string };

export async function detectHardware(options: DetectOptions = {}): Promise<HardwareInfo> {
  const exec = options.exec ?? execText;
  const diskPath = options.diskPath ?? process.cwd();
  const cpus = os.cpus();
  const gpus = await detectGpus(exec);
  let disk: HardwareInfo["disk"] = null;
  try {
    const s = await statfs(diskPath);
    disk = { path: diskPath, total_bytes: s.blocks * s.bsize, free_bytes: s.bavail * s.bsize };
  } catch {
    disk = null;
  }
  return {
    cpu: {
      model: cpus[0]?.model.trim() ?? "unknown",
      cores: os.availableParallelism?.() ?? cpus.length,
      arch: os.arch(),
      speed_mhz: cpus[0]?.speed || null,
    },
    memory: { total_bytes: os.totalmem(), free_bytes: os.freemem() },
    disk,
    gpus,
    tee: await detectTee(exec, gpus.length > 0),
    os: { platform: os.platform(), release: os.release() },
    detected_at: Math.floor(Date.now() / 1000),
  };
}

/** Detect once, share the answer. */
export function cachedHardware(options: DetectOptions = {}): () => Promise<HardwareInfo> {
  let cached: Promise<HardwareInfo> | undefined;
  return () => {
    cached ??= detectHardware(options).catch((err: unknown) => {
      cached = undefined;
      throw err;
    });
    return cached;
  };
}
