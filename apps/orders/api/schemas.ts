// zod schemas of every route: they validate requests and document the API (OpenAPI at /docs/json).
import { z } from 'zod';
import { OrderItemSchema } from '../domain/types';

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .describe('RFC 9457 problem details (application/problem+json)');

/** Unknown fields are refused: a field the server ignored would still change the client's intent. */
export const CreateOrderBodySchema = z.strictObject({
  // OrderItemsSchema's rules, with unknown fields refused in each item too (`{sku, quantity, price}` is 400).
  items: z
    .array(z.strictObject(OrderItemSchema.shape))
    .min(1)
    .max(50)
    .refine((items) => new Set(items.map((i) => i.sku)).size === items.length, 'each SKU may appear once'),
  paymentToken: z.string().min(1).max(255),
});
export type CreateOrderBody = z.infer<typeof CreateOrderBodySchema>;

export const OrderLinksSchema = z.object({ self: z.string(), cancel: z.string() });

export const OrderAcceptedSchema = z.object({
  orderId: z.string(),
  status: z.literal('PENDING'),
  workflowId: z.string(),
  links: OrderLinksSchema,
});

export const OrderOutcomeSchema = z.object({
  orderId: z.string(),
  status: z.enum(['COMPLETED', 'COMPENSATED']),
  workflowId: z.string(),
  totalCents: z.number().int().optional(),
  chargeId: z.string().optional(),
  reason: z.string().optional().describe('why the order was compensated'),
  links: OrderLinksSchema,
});

export const OrderIdParamsSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'an order ID such as ord_0123…') });

export const OrderViewSchema = z.object({
  orderId: z.string(),
  status: z.enum(['PENDING', 'COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK']),
  workflowId: z.string(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })).nullable(),
  totalCents: z.number().int().nullable(),
  currency: z.string().nullable(),
  failureReason: z.string().nullable(),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
  saga: z.record(z.string(), z.unknown()).nullable().describe('The saga state from the workflow query; null when the workflow cannot answer now'),
});
export type OrderView = z.infer<typeof OrderViewSchema>;

/** Optional: a POST without a body (Fastify hands null to the schema) cancels with the default reason. */
export const CancelBodySchema = z.strictObject({ reason: z.string().min(1).max(500).optional() }).nullish();

export const CancelAnswerSchema = z.object({ accepted: z.boolean(), message: z.string() });

export const ProductsSchema = z.object({
  products: z.array(z.object({ sku: z.string(), name: z.string(), priceCents: z.number().int(), available: z.number().int() })),
});

export const PolicySchema = z.object({
  scope: z.string(),
  retentionSeconds: z.number().int(),
  leaseMs: z.number().int(),
  keyFormat: z.object({ header: z.string(), pattern: z.string(), description: z.string() }),
  scoping: z.array(z.string()),
  storeKeyFormat: z.string(),
  behaviour: z.record(z.string(), z.string()),
});

export const HealthSchema = z.object({ status: z.literal('ok') });
const CheckSchema = z.string().regex(/^(ok|down: .*)$/s);
export const ReadySchema = z.object({ status: z.enum(['ready', 'unavailable']), checks: z.object({ database: CheckSchema, temporal: CheckSchema }) });

export const CreateOrderHeadersSchema = z.looseObject({
  'idempotency-key': z.string().min(1).max(255).describe('1–255 printable ASCII characters; scoped per (tenant, method, route)'),
  prefer: z
    .string()
    .optional()
    .describe('RFC 7240 `wait=<seconds>` (at most 60): answer 200 with the outcome if the saga ends within the wait, else the usual 202'),
});
