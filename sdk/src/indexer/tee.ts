/**
 * TEE type names: the registry's enum names plus the spellings people use ("tdx", "sev-snp", "nvidia-cc").
 */
import { TEE_TYPES, type TeeType } from "./types.ts";

const ALIASES: Record<string, TeeType> = {
  none: "None",
  sgx: "IntelSGX",
  intelsgx: "IntelSGX",
  tdx: "IntelTDX",
  inteltdx: "IntelTDX",
  sev: "AmdSevSnp",
  sevsnp: "AmdSevSnp",
  amdsev: "AmdSevSnp",
  amdsevsnp: "AmdSevSnp",
  nvidia: "NvidiaCC",
  nvidiacc: "NvidiaCC",
  cc: "NvidiaCC",
};

/** `"tdx"`, `"Intel TDX"`, `"IntelTDX"`, `"intel-tdx"` → `"IntelTDX"`; `"any"` stays `"any"`; else undefined. */
export function parseTeeType(input: string): TeeType | "any" | undefined {
  const key = input.toLowerCase().replace(/[\s_-]/g, "");
  if (key === "any") return "any";
  return ALIASES[key];
}

/** The registry's enum value (0…4) → name. */
export function teeTypeFromIndex(v: number): TeeType {
  return TEE_TYPES[v] ?? "None";
}

/** Docs-style labels: "Intel TDX", "AMD SEV-SNP", "NVIDIA CC", "Intel SGX", null for none. */
export function teeTypeLabel(t: TeeType): string | null {
  switch (t) {
    case "IntelSGX":
      return "Intel SGX";
    case "IntelTDX":
      return "Intel TDX";
    case "AmdSevSnp":
      return "AMD SEV-SNP";
    case "NvidiaCC":
      return "NVIDIA CC";
    default:
      return null;
  }
}
