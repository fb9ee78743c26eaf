/**
 * Wire shapes of x402 (v1 and v2) for the `exact` EVM scheme (EIP-3009 `transferWithAuthorization`),
 * parsed at the edge with zod. Amounts stay decimal strings on the wire and become `bigint` inside.
 */
import { z } from "zod";

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, "expected 0x-prefixed hex");
export const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 20-byte 0x address");
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected a 32-byte 0x value");
const uintString = z
  .union([z.string().regex(/^\d+$/, "expected a decimal integer"), z.number().int().min(0)])
  .transform(String);

/** EIP-3009 authorization as x402 carries it (decimal strings). */
export const authorizationSchema = z.object({
  from: addressSchema,
  to: addressSchema,
  value: uintString,
  validAfter: uintString,
  validBefore: uintString,
  nonce: bytes32,
});
export type Authorization = z.infer<typeof authorizationSchema>;

/** The `payload` of an `exact` EVM payment. */
export const exactEvmPayloadSchema = z.object({
  signature: hex,
  authorization: authorizationSchema,
});
export type ExactEvmPayload = z.infer<typeof exactEvmPayloadSchema>;

export const paymentRequirementsV2Schema = z.looseObject({
  scheme: z.string(),
  network: z.string(),
  asset: z.string(),
  amount: z.string(),
  payTo: z.string(),
  maxTimeoutSeconds: z.number(),
  extra: z.record(z.string(), z.unknown()).default({}),
});

export const paymentRequirementsV1Schema = z.looseObject({
  scheme: z.string(),
  network: z.string(),
  maxAmountRequired: z.string(),
  resource: z.string().default(""),
  description: z.string().default(""),
  mimeType: z.string().default(""),
  payTo: z.string(),
  maxTimeoutSeconds: z.number(),
  asset: z.string(),
  outputSchema: z.record(z.string(), z.unknown()).optional(),
  extra: z.record(z.string(), z.unknown()).default({}),
});

export const paymentPayloadV1Schema = z.looseObject({
  x402Version: z.literal(1),
  scheme: z.string(),
  network: z.string(),
  payload: z.record(z.string(), z.unknown()),
});

export const paymentPayloadV2Schema = z.looseObject({
  x402Version: z.literal(2),
  resource: z.looseObject({ url: z.string() }).optional(),
  accepted: paymentRequirementsV2Schema,
  payload: z.record(z.string(), z.unknown()),
  extensions: z.record(z.string(), z.unknown()).optional(),
});

/** Body of the facilitator's `POST /verify` and `POST /settle` (either generation). */
export const facilitatorRequestSchema = z.union([
  z.object({
    x402Version: z.literal(2).optional(),
    paymentPayload: paymentPayloadV2Schema,
    paymentRequirements: paymentRequirementsV2Schema,
  }),
  z.object({
    x402Version: z.literal(1).optional(),
    paymentPayload: paymentPayloadV1Schema,
    paymentRequirements: paymentRequirementsV1Schema,
  }),
]);
export type FacilitatorRequest = z.infer<typeof facilitatorRequestSchema>;
