import { describe, expect, it } from "vitest";
import { detectHardware, GPU_QUERY_FIELDS, parseNvidiaSmi } from "./detect.ts";

const SMI = `0, NVIDIA H100 80GB HBM3, GPU-5c1f7c9e-0b1a-4c1e-9d0e-1a2b3c4d5e6f, 81559, 81000, 550.54.15, 9.0
1, NVIDIA A100-SXM4-40GB, GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, 40960, [N/A], 550.54.15, 8.0
`;

describe("hardware detection", () => {
  it("parses nvidia-smi csv,noheader,nounits output", () => {
    expect(parseNvidiaSmi(SMI)).toEqual([
      {
        index: 0,
        name: "NVIDIA H100 80GB HBM3",
        uuid: "GPU-5c1f7c9e-0b1a-4c1e-9d0e-1a2b3c4d5e6f",
        memory_total_mib: 81559,
        memory_free_mib: 81000,
        driver_version: "550.54.15",
        compute_capability: "9.0",
      },
      {
        index: 1,
        name: "NVIDIA A100-SXM4-40GB",
        uuid: "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        memory_total_mib: 40960,
        memory_free_mib: null,
        driver_version: "550.54.15",
        compute_capability: "8.0",
      },
    ]);
  });

  it("queries nvidia-smi with the documented flags and reports no GPUs when it is absent", async () => {
    const calls: string[][] = [];
    const withGpu = await detectHardware({
      exec: async (file, args) => {
        calls.push([file, ...args]);
        if (args[0] === "conf-compute") return "CC status: ON\n";
        return SMI;
      },
    });
    expect(calls[0]).toEqual([
      "nvidia-smi",
      `--query-gpu=${GPU_QUERY_FIELDS.join(",")}`,
      "--format=csv,noheader,nounits",
    ]);
    expect(withGpu.gpus).toHaveLength(2);
    expect(withGpu.tee.types).toContain("nvidia-cc");
    const none = await detectHardware({
      exec: async () => {
        throw Object.assign(new Error("spawn nvidia-smi ENOENT"), { code: "ENOENT" });
      },
    });
    expect(none.gpus).toEqual([]);
    expect(none.cpu.cores).toBeGreaterThan(0);
    expect(none.memory.total_bytes).toBeGreaterThan(0);
  });
});
