// Inventory activities: hold stock for one order line, and release it as a compensation.
import { BusinessFailure, type StepKinds } from 'idempotent-sagas/activity';
import { z } from 'zod';
import * as sql from '../domain/orders-sql';
import { OrderFailure, OrderItemSchema } from '../domain/types';

const ReserveInput = OrderItemSchema.extend({ key: z.string().min(1).max(255), orderId: z.string().min(1).max(100) });
export type ReserveInput = z.infer<typeof ReserveInput>;
const ReleaseInput = z.object({ forwardKey: z.string().min(1).max(255), orderId: z.string().min(1).max(100), sku: z.string().min(1) });

export function createInventoryActivities(steps: StepKinds) {
  return {
    /** Moves stock from on_hand to reserved and records the reservation; OUT_OF_STOCK is a business failure. */
    reserveStock: steps.local({
      input: ReserveInput,
      effect: async (client, input): Promise<{ sku: string; quantity: number }> => {
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
    }),

    /**
     * Compensation: releases the held stock, or tombstones the key if the reservation never applied.
     * Without a record it still releases by natural key (order, SKU): a hold is never left behind.
     */
    releaseStock: steps.compensateLocal({
      input: ReleaseInput,
      undo: async (client, reserved: { sku: string; quantity: number }, input) => {
        if (reserved.sku !== input.sku) throw new Error(`release of ${input.sku} does not match the step it undoes (${reserved.sku})`);
        await sql.releaseReservation(client, input.orderId, input.sku);
      },
      undoByNaturalKey: async (client, input) => (await sql.releaseReservation(client, input.orderId, input.sku)) > 0,
    }),
  };
}
