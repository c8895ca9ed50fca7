// Glossary of the order domain (DESIGN §1, §6).
//  - Order: one customer request; its saga is the workflow `order-<id>`.
//  - Reservation: stock held for one order line, until consumed (confirmed) or released (compensated).
//  - Payment: the one captured charge of an order at the gateway; refunded when the saga compensates.
//  - Pivot: confirming the order; after it the saga never compensates.
import { z } from 'zod';

export const SKU_PATTERN = /^[A-Z0-9][A-Z0-9-]{0,63}$/;

export const OrderItemSchema = z.object({
  sku: z.string().regex(SKU_PATTERN, 'an upper-case SKU such as SKU-1'),
  quantity: z.number().int().min(1).max(1000),
});
export type OrderItem = z.infer<typeof OrderItemSchema>;

export const OrderItemsSchema = z
  .array(OrderItemSchema)
  .min(1)
  .max(50)
  .refine((items) => new Set(items.map((i) => i.sku)).size === items.length, 'each SKU may appear once');

export const CurrencySchema = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR');

export type OrderStatus = 'PENDING' | 'COMPLETED' | 'COMPENSATED' | 'COMPENSATION_STUCK';

/** Business failures the order saga reports; each is stored with its key and never retried. */
export const OrderFailure = {
  OutOfStock: 'OUT_OF_STOCK',
  UnknownSku: 'UNKNOWN_SKU',
  CardDeclined: 'CARD_DECLINED',
  PaymentNotConfirmed: 'PAYMENT_NOT_CONFIRMED',
  /** A second saga met an order ID that already has a row (the natural key): the old order is left as it is. */
  AlreadyExists: 'ORDER_ALREADY_EXISTS',
  /** Confirming an order that is not this saga's PENDING order (never expected; refused rather than applied). */
  NotPending: 'ORDER_NOT_PENDING',
} as const;
