// Order activities: create (forward), compensate (final status with reason), mark stuck, confirm (the pivot).
import { BusinessFailure, ownSagaId, type StepKinds } from 'idempotent-sagas/activity';
import { z } from 'zod';
import type { PoolClient } from 'pg';
import { appendEvent } from '../../events/outbox';
import * as sql from '../domain/orders-sql';
import { CurrencySchema, OrderFailure, OrderItemsSchema } from '../domain/types';

const Key = z.string().min(1).max(255);
const OrderId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);

const CreateOrderInput = z.object({
  key: Key,
  orderId: OrderId,
  tenantId: z.string().min(1).max(100),
  items: OrderItemsSchema,
  currency: CurrencySchema,
});
export type CreateOrderInput = z.infer<typeof CreateOrderInput>;
export type CreatedOrder = { orderId: string; totalCents: number; currency: string };

const CompensateOrderInput = z.object({ forwardKey: Key, orderId: OrderId, reason: z.string().min(1).max(1000) });
const MarkStuckInput = z.object({ key: Key, orderId: OrderId, reason: z.string().min(1).max(1000) });
const ConfirmOrderInput = z.object({ key: Key, orderId: OrderId });

export function createOrderActivities(steps: StepKinds) {
  return {
    /** Prices the items from the catalogue and inserts the order PENDING. UNKNOWN_SKU is a business failure. */
    createOrder: steps.local({
      input: CreateOrderInput,
      effect: async (client, input): Promise<CreatedOrder> => {
        const { lines, unknown } = await sql.priceLines(client, input.items);
        if (unknown.length > 0) {
          throw new BusinessFailure(OrderFailure.UnknownSku, `unknown SKU: ${unknown.join(', ')}`, { skus: unknown });
        }
        const totalCents = lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);
        const workflowId = ownSagaId();
        if (!(await sql.insertOrder(client, { id: input.orderId, workflowId, tenantId: input.tenantId, lines, totalCents, currency: input.currency }))) {
          // The natural key caught a second saga for one order ID: a definitive, typed refusal; the old order is untouched.
          throw new BusinessFailure(OrderFailure.AlreadyExists, `order ${input.orderId} already exists (created by another saga)`, {
            orderId: input.orderId,
          });
        }
        return { orderId: input.orderId, totalCents, currency: input.currency };
      },
    }),

    /**
     * Compensation of create-order, run last: the order this saga created ends COMPENSATED with its
     * reason (or never existed). Never touches another saga's order, never one already terminal.
     */
    compensateOrder: steps.compensateLocal({
      input: CompensateOrderInput,
      undo: async (client, created: CreatedOrder, input) => {
        if (created.orderId !== input.orderId) {
          throw new Error(`compensation for order ${input.orderId} does not match the step it undoes (order ${created.orderId})`);
        }
        await compensated(client, input.orderId, input.reason);
      },
      undoByNaturalKey: (client, input) => compensated(client, input.orderId, input.reason),
    }),

    /** Makes a stuck compensation visible on the order itself. */
    markOrderStuck: steps.local({
      input: MarkStuckInput,
      effect: async (client, input): Promise<null> => {
        await sql.setOrderStatus(client, input.orderId, 'COMPENSATION_STUCK', input.reason, ownSagaId());
        return null;
      },
    }),

    /** The pivot: reservations become sales and the order is COMPLETED. */
    confirmOrder: steps.local({
      input: ConfirmOrderInput,
      effect: async (client, input) => {
        if (!(await sql.setOrderStatus(client, input.orderId, 'COMPLETED', undefined, ownSagaId()))) {
          throw new BusinessFailure(OrderFailure.NotPending, `order ${input.orderId} is not this saga's pending order`, { orderId: input.orderId });
        }
        await sql.consumeReservations(client, input.orderId);
        const order = await summaryOf(client, input.orderId);
        await appendEvent(client, {
          workflowId: ownSagaId(),
          type: 'order.completed',
          aggregateId: input.orderId,
          payload: { orderId: input.orderId, ...order },
        });
        return { orderId: input.orderId, status: 'COMPLETED' as const };
      },
    }),
  };
}

/** The order this saga created ends COMPENSATED, its event in the outbox in the same transaction; false (nothing) when it never existed or is already terminal. */
async function compensated(client: PoolClient, orderId: string, reason: string): Promise<boolean> {
  const workflowId = ownSagaId();
  if (!(await sql.setOrderStatus(client, orderId, 'COMPENSATED', reason, workflowId))) return false;
  const { tenantId } = await summaryOf(client, orderId);
  await appendEvent(client, { workflowId, type: 'order.compensated', aggregateId: orderId, payload: { orderId, tenantId, reason } });
  return true;
}

async function summaryOf(client: PoolClient, orderId: string) {
  const order = await sql.orderSummary(client, orderId);
  if (!order) throw new Error(`order ${orderId} vanished inside its own transaction`);
  return order;
}
