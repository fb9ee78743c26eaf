/** x402 `exact` EVM reason codes (as the x402 packages name them) and what they mean, for `invalidMessage`. */
export const REASONS = {
  invalidPayload: "invalid_payload",
  scheme: "invalid_exact_evm_scheme",
  network: "invalid_exact_evm_network_mismatch",
  asset: "invalid_exact_evm_asset_not_supported",
  recipient: "invalid_exact_evm_recipient_mismatch",
  signature: "invalid_exact_evm_signature",
  expired: "invalid_exact_evm_payload_authorization_valid_before",
  notYetValid: "invalid_exact_evm_payload_authorization_valid_after",
  valueMismatch: "invalid_exact_evm_payload_authorization_value_mismatch",
  underpaid: "invalid_exact_evm_authorization_value",
  insufficientBalance: "invalid_exact_evm_insufficient_balance",
  nonceUsed: "invalid_exact_evm_nonce_already_used",
  simulation: "invalid_exact_evm_transaction_simulation_failed",
  transactionFailed: "invalid_exact_evm_transaction_failed",
  rateLimited: "rate_limited",
  unexpected: "unexpected_settle_error",
} as const;

const MESSAGES: Record<string, string> = {
  invalid_payload: "The payment is not a well-formed x402 payload.",
  invalid_exact_evm_scheme: "Only the `exact` scheme is supported.",
  invalid_exact_evm_network_mismatch: "The payment is for another network (chain).",
  invalid_exact_evm_asset_not_supported: "The payment's asset is not the accepted token.",
  invalid_exact_evm_recipient_mismatch: "The authorization pays someone other than `payTo`.",
  invalid_exact_evm_signature: "The authorization's signature is not the payer's.",
  invalid_exact_evm_payload_authorization_valid_before: "The authorization has expired (validBefore).",
  invalid_exact_evm_payload_authorization_valid_after: "The authorization is not valid yet (validAfter).",
  invalid_exact_evm_payload_authorization_value_mismatch: "The authorized value differs from the required amount.",
  invalid_exact_evm_authorization_value: "The authorized value is below the required amount.",
  invalid_exact_evm_insufficient_balance: "The payer's token balance is below the authorized value.",
  invalid_exact_evm_nonce_already_used: "This authorization (nonce) was already used.",
  invalid_exact_evm_transaction_simulation_failed: "The transfer would revert on-chain.",
  invalid_exact_evm_transaction_failed: "The settlement transaction reverted.",
  invalid_exact_evm_missing_eip712_domain: "The requirements lack the token's EIP-712 name/version.",
  invalid_exact_evm_token_name_mismatch: "The token's EIP-712 name differs from the requirements.",
  invalid_exact_evm_token_version_mismatch: "The token's EIP-712 version differs from the requirements.",
  settlement_pending: "The settlement transaction was sent but is not mined yet; retry to reconcile.",
  rate_limited: "Too many payments from this payer; slow down.",
};

export function reasonMessage(reason: string | undefined): string {
  if (!reason) return "Payment refused.";
  return MESSAGES[reason] ?? reason.replaceAll("_", " ");
}
