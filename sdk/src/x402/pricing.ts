/**
 * Per-token inference prices and the amount a request is charged: an upper bound fixed before any model
 * work, `promptTokens × input + maxTokens × choices × output`, in the token's atomic units (USDC: 6
 * decimals). The `exact` scheme charges the whole bound; a node that knows its tokenizer passes its
 * count, otherwise {@link estimateTokens} is used.
 */

/** Prices in atomic units per token (USDC 6 decimals: 1n = 0.000001 USDC). */
export type ModelPrice = { inputPerToken: bigint; outputPerToken: bigint };

export function isFree(price: ModelPrice | undefined): boolean {
  return price === undefined || (price.inputPerToken === 0n && price.outputPerToken === 0n);
}

/**
 * Token estimate without a tokenizer: one token per 3 UTF-8 bytes, rounded up. BPE tokenizers average
 * about 4 bytes per token on English text, so this overestimates ordinary prompts (an upper bound in
 * practice, not a guarantee for adversarial byte strings).
 */
export function estimateTokens(text: string): number {
  const bytes = Buffer.byteLength(text, "utf8");
  return Math.ceil(bytes / 3);
}

export type PriceBoundParameters = {
  price: ModelPrice;
  promptTokens: number;
  /** Completion tokens allowed per choice (0 for embeddings). */
  maxTokens: number;
  /** Choices (`n`), default 1. */
  choices?: number;
};

export function priceBound(p: PriceBoundParameters): bigint {
  const choices = BigInt(Math.max(1, p.choices ?? 1));
  return BigInt(p.promptTokens) * p.price.inputPerToken + BigInt(p.maxTokens) * choices * p.price.outputPerToken;
}
