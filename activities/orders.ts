// Order activities: create (forward), compensate (final status with reason), mark stuck, confirm (the pivot).
import { z } from 'zod';
import { BusinessFailure } from '../src/errors';
import * as sql from '../src/domain/orders-sql';
import { CurrencySchema, OrderFailure, OrderItemsSchema } from '../src/domain/types';
import { assertOwnKey, parseInput } from './context';
import { STEP_SCOPE, type ActivityDeps } from './deps';
import { translated } from './failures';

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

export function createOrderActivities({ store }: ActivityDeps) {
  return {
    /** Prices the items from the catalogue and inserts the order PENDING. UNKNOWN_SKU is a business failure. */
    async createOrder(raw: CreateOrderInput): Promise<CreatedOrder> {
      const input = parseInput(CreateOrderInput, raw);
      assertOwnKey(input.key);
      return translated(async () => {
        const { result } = await store.runOnce({
          scope: STEP_SCOPE,
          key: input.key,
          request: input,
          effect: async (client): Promise<CreatedOrder> => {
            const { lines, unknown } = await sql.priceLines(client, input.items);
            if (unknown.length > 0) {
              throw new BusinessFailure(OrderFailure.UnknownSku, `unknown SKU: ${unknown.join(', ')}`, { skus: unknown });
            }
            const totalCents = lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);
            const workflowId = input.key.slice(0, input.key.lastIndexOf('/'));
            if (!(await sql.insertOrder(client, { id: input.orderId, workflowId, tenantId: input.tenantId, lines, totalCents, currency: input.currency }))) {
              throw new Error(`order ${input.orderId} already exists under another key`); // the natural key caught a duplicate
            }
            return { orderId: input.orderId, totalCents, currency: input.currency };
          },
        });
        return result;
      });
    },

    /** Compensation of create-order, run last: the order ends COMPENSATED with its reason (or never existed). */
    async compensateOrder(raw: z.infer<typeof CompensateOrderInput>): Promise<string> {
      const input = parseInput(CompensateOrderInput, raw);
      assertOwnKey(input.forwardKey);
      return translated(() =>
        store.compensateLocal({
          scope: STEP_SCOPE,
          key: input.forwardKey,
          undo: (client) => sql.setOrderStatus(client, input.orderId, 'COMPENSATED', input.reason),
        }),
      );
    },

    /** Makes a stuck compensation visible on the order itself. */
    async markOrderStuck(raw: z.infer<typeof MarkStuckInput>): Promise<void> {
      const input = parseInput(MarkStuckInput, raw);
      assertOwnKey(input.key);
      await translated(() =>
        store.runOnce({
          scope: STEP_SCOPE,
          key: input.key,
          request: input,
          effect: async (client) => {
            await sql.setOrderStatus(client, input.orderId, 'COMPENSATION_STUCK', input.reason);
            return null;
          },
        }),
      );
    },

    /** The pivot: reservations become sales and the order is COMPLETED. */
    async confirmOrder(raw: z.infer<typeof ConfirmOrderInput>): Promise<{ orderId: string; status: 'COMPLETED' }> {
      const input = parseInput(ConfirmOrderInput, raw);
      assertOwnKey(input.key);
      return translated(async () => {
        const { result } = await store.runOnce({
          scope: STEP_SCOPE,
          key: input.key,
          request: input,
          effect: async (client) => {
            await sql.consumeReservations(client, input.orderId);
            await sql.setOrderStatus(client, input.orderId, 'COMPLETED');
            return { orderId: input.orderId, status: 'COMPLETED' as const };
          },
        });
        return result;
      });
    },
  };
}
