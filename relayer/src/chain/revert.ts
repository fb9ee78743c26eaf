import { type Abi, BaseError, decodeErrorResult, type Hex } from "viem";

/** Best-effort revert reason: a decoded custom error (`Name(arg, …)`) when `abi` knows it, else viem's message. */
export function revertReason(err: unknown, abi?: Abi): string {
  if (err instanceof BaseError) {
    let data: Hex | undefined;
    let reason: string | undefined;
    err.walk((e) => {
      const d = (e as { data?: unknown }).data;
      if (typeof d === "string" && d.startsWith("0x") && d.length >= 10) {
        data = d as Hex;
        return true;
      }
      if (d && typeof d === "object" && "errorName" in d) {
        const named = d as { errorName: string; args?: readonly unknown[] };
        data = undefined;
        reason = `${named.errorName}(${(named.args ?? []).map(String).join(", ")})`;
        return true;
      }
      return false;
    });
    if (reason) return reason;
    if (data && abi) {
      try {
        const decoded = decodeErrorResult({ abi, data });
        return `${decoded.errorName}(${(decoded.args ?? []).map(String).join(", ")})`;
      } catch {
        // unknown selector: fall through
      }
    }
    if (data) return `revert data ${data}`;
    return err.shortMessage;
  }
  return err instanceof Error ? err.message : String(err);
}
