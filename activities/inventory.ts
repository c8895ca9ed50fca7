// Inventory activities: hold stock for one order line, and release it as a compensation.
import { z } from 'zod';
import { BusinessFailure } from '../src/errors';
import * as sql from '../src/domain/orders-sql';
import { OrderFailure, OrderItemSchema } from '../src/domain/types';
import { assertOwnKey, parseInput } from './context';
import { STEP_SCOPE, type ActivityDeps } from './deps';
import { translated } from './failures';

const ReserveInput = OrderItemSchema.extend({ key: z.string().min(1).max(255), orderId: z.string().min(1).max(100) });
export type ReserveInput = z.infer<typeof ReserveInput>;
const ReleaseInput = z.object({ forwardKey: z.string().min(1).max(255), orderId: z.string().min(1).max(100), sku: z.string().min(1) });

export function createInventoryActivities({ store }: ActivityDeps) {
  return {
    /** Moves stock from on_hand to reserved and records the reservation; OUT_OF_STOCK is a business failure. */
    async reserveStock(raw: ReserveInput): Promise<{ sku: string; quantity: number }> {
      const input = parseInput(ReserveInput, raw);
      assertOwnKey(input.key);
      return translated(async () => {
        const { result } = await store.runOnce({
          scope: STEP_SCOPE,
          key: input.key,
          request: input,
          effect: async (client) => {
            if (!(await sql.holdStock(client, input.sku, input.quantity))) {
              const available = await sql.availableStock(client, input.sku);
              if (available === undefined) throw new BusinessFailure(OrderFailure.UnknownSku, `unknown SKU ${input.sku}`, { sku: input.sku });
              throw new BusinessFailure(OrderFailure.OutOfStock, `${input.sku}: ${input.quantity} requested, ${available} available`, {
                sku: input.sku,
                requested: input.quantity,
                available,
              });
            }
            await sql.insertReservation(client, input.orderId, input.sku, input.quantity);
            return { sku: input.sku, quantity: input.quantity };
          },
        });
        return result;
      });
    },

    /** Compensation: releases the held stock, or tombstones the key if the reservation never applied. */
    async releaseStock(raw: z.infer<typeof ReleaseInput>): Promise<string> {
      const input = parseInput(ReleaseInput, raw);
      assertOwnKey(input.forwardKey);
      return translated(() =>
        store.compensateLocal({
          scope: STEP_SCOPE,
          key: input.forwardKey,
          undo: async (client) => {
            await sql.releaseReservation(client, input.orderId, input.sku);
          },
        }),
      );
    },
  };
}
