/**
 * GPUs on this host, from `nvidia-smi`. No nvidia-smi (or it fails): no GPUs, and containers get no
 * DeviceRequests. Device ids are nvidia-smi indices as strings, what Docker's `DeviceRequests[].DeviceIDs`
 * and the NVIDIA container runtime accept.
 */
import { execFile } from "node:child_process";

export type GpuDevice = { id: string; uuid: string; name: string; memoryMiB: number };

export async function detectGpus(nvidiaSmi = "nvidia-smi", timeoutMs = 10_000): Promise<GpuDevice[]> {
  const out = await new Promise<string | undefined>((resolve) => {
    execFile(
      nvidiaSmi,
      ["--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
      { timeout: timeoutMs },
      (err, stdout) => resolve(err ? undefined : stdout),
    );
  });
  if (out === undefined) return [];
  return parseNvidiaSmiCsv(out);
}

export function parseNvidiaSmiCsv(csv: string): GpuDevice[] {
  const gpus: GpuDevice[] = [];
  for (const line of csv.split("\n")) {
    const [index, uuid, name, mem] = line.split(",").map((s) => s.trim());
    if (!index || !/^\d+$/.test(index) || !uuid) continue;
    gpus.push({ id: index, uuid, name: name ?? "", memoryMiB: Number(mem) || 0 });
  }
  return gpus;
}
