// Wire formats of the gateway, shared by the app (requests) and the client (responses).
import { z } from 'zod';
import { KEY_PATTERN } from 'idempotent-sagas/store';

/** 1–255 printable ASCII characters, as for our own Idempotency-Key (DESIGN §8). */
export const idempotencyKeySchema = z.string().regex(KEY_PATTERN, '1–255 printable ASCII characters');

export const chargeRequestSchema = z.strictObject({
  /** Integer cents. */
  amount: z.number().int().min(1).max(10_000_000),
  /** ISO 4217 letters; stored and fingerprinted in lower case, so `USD` and `usd` are one request. */
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'three letters')
    .transform((s) => s.toLowerCase()),
  paymentToken: z.string().min(1).max(255),
  orderId: z.string().min(1).max(255).optional(),
});
export type ChargeRequest = z.input<typeof chargeRequestSchema>;

export const refundRequestSchema = z.union([
  z.strictObject({ chargeId: z.string().min(1).max(255) }),
  z.strictObject({ idempotencyKey: idempotencyKeySchema }),
]);
export type RefundRequest = z.output<typeof refundRequestSchema>;

export const chargeStatusSchema = z.enum(['succeeded', 'declined', 'pending']);

/** The body of every POST /charges answer (201 succeeded, 402 declined, 202 pending). */
export const chargeSchema = z.object({
  id: z.string(),
  status: chargeStatusSchema,
  amount: z.number().int(),
  currency: z.string(),
  idempotencyKey: z.string(),
  orderId: z.string().nullable(),
  declineCode: z.string().nullable(),
  createdAt: z.string(),
});
export type GatewayCharge = z.output<typeof chargeSchema>;

/** GET /charges/by-key/:key: the charge's current state and its refund, if any. */
export const chargeViewSchema = chargeSchema.extend({
  refunded: z.boolean(),
  refundId: z.string().nullable(),
});
export type GatewayChargeView = z.output<typeof chargeViewSchema>;

/** Every answer of POST /refunds that is not an error. */
export const refundResultSchema = z.discriminatedUnion('status', [
  /** The charge is refunded in full (now, or by an earlier request: `created` tells which). */
  z.object({
    status: z.literal('refunded'),
    refundId: z.string(),
    chargeId: z.string(),
    amount: z.number().int(),
    currency: z.string(),
    createdAt: z.string(),
    created: z.boolean(),
    idempotencyKey: z.string(),
  }),
  /** No charge with this key exists; a tombstone now refuses any later charge with it. */
  z.object({ status: z.literal('no_charge'), tombstoned: z.literal(true), idempotencyKey: z.string() }),
  /** The charge was declined: no money moved, so there is nothing to refund. */
  z.object({ status: z.literal('not_charged'), chargeId: z.string(), idempotencyKey: z.string(), chargeStatus: z.literal('declined') }),
]);
export type RefundResult = z.output<typeof refundResultSchema>;

/** Every error answer: a stable `error` string, never a stack trace. */
export const errorBodySchema = z.looseObject({ error: z.string(), message: z.string().optional() });
