// Benchmark-only activities for `npm run bench:saga`.
//
// (b) The order saga's effects with the idempotency layer switched off: the same SQL from
//     apps/orders/domain/orders-sql.ts in plain transactions, and the gateway charge through the client
//     without the lease protocol. No idempotency store, no keys recorded on our side.
// (c) No-op activities: what Temporal alone costs per step.
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { withTransaction } from 'idempotent-sagas/store';
import { appendEvent } from '../../apps/events/outbox';
import * as sql from '../../apps/orders/domain/orders-sql';
import type { OrderItem } from '../../apps/orders/domain/types';
import type { GatewayClient } from '../../apps/gateway/client';

export type PlainCreateInput = { orderId: string; workflowId: string; tenantId: string; items: OrderItem[]; currency: string };
export type PlainCreated = { orderId: string; totalCents: number; currency: string };
export type PlainChargeInput = { key: string; orderId: string; amountCents: number; currency: string; paymentToken: string };
export type PlainChargeOutcome = { chargeId: string; amountCents: number; status: 'captured' | 'pending' };

export function createNoIdempotencyActivities(deps: { pool: Pool; gateway: GatewayClient }) {
  const { pool, gateway } = deps;
  return {
    async createOrderPlain(input: PlainCreateInput): Promise<PlainCreated> {
      return withTransaction(pool, async (client) => {
        const { lines, unknown } = await sql.priceLines(client, input.items);
        if (unknown.length > 0) throw ApplicationFailure.nonRetryable(`unknown SKU: ${unknown.join(', ')}`, 'UNKNOWN_SKU');
        const totalCents = lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);
        if (
          !(await sql.insertOrder(client, {
            id: input.orderId,
            workflowId: input.workflowId,
            tenantId: input.tenantId,
            lines,
            totalCents,
            currency: input.currency,
          }))
        ) {
          throw ApplicationFailure.nonRetryable(`order ${input.orderId} already exists`, 'DUPLICATE_ORDER');
        }
        return { orderId: input.orderId, totalCents, currency: input.currency };
      });
    },

    async reserveStockPlain(input: { orderId: string; sku: string; quantity: number }): Promise<{ sku: string; quantity: number }> {
      return withTransaction(pool, async (client) => {
        if (!(await sql.holdStock(client, input.sku, input.quantity))) {
          throw ApplicationFailure.nonRetryable(`${input.sku}: not enough stock`, 'OUT_OF_STOCK');
        }
        await sql.insertReservation(client, input.orderId, input.sku, input.quantity);
        return { sku: input.sku, quantity: input.quantity };
      });
    },

    /** The gateway still gets an Idempotency-Key (its API requires one); no lease, no record on our side. */
    async chargePaymentPlain(input: PlainChargeInput): Promise<PlainChargeOutcome> {
      const answer = await gateway.charge(input.key, {
        amount: input.amountCents,
        currency: input.currency,
        paymentToken: input.paymentToken,
        orderId: input.orderId,
      });
      if (answer.kind === 'declined') throw ApplicationFailure.nonRetryable(`card declined: ${answer.declineCode}`, 'CARD_DECLINED');
      const outcome: PlainChargeOutcome = {
        chargeId: answer.charge.id,
        amountCents: answer.charge.amount,
        status: answer.kind === 'pending' ? 'pending' : 'captured',
      };
      if (outcome.status === 'captured') {
        await withTransaction(pool, (client) =>
          sql.upsertCapturedPayment(client, {
            orderId: input.orderId,
            idempotencyKey: input.key,
            chargeId: outcome.chargeId,
            amountCents: outcome.amountCents,
            currency: input.currency,
          }),
        );
      }
      return outcome;
    },

    async confirmOrderPlain(input: { orderId: string; workflowId: string }): Promise<{ orderId: string; status: 'COMPLETED' }> {
      return withTransaction(pool, async (client) => {
        await sql.setOrderStatus(client, input.orderId, 'COMPLETED');
        await sql.consumeReservations(client, input.orderId);
        // The event goes out with the status, as in the shipped saga (the outbox is not part of the idempotency layer).
        const order = await sql.orderSummary(client, input.orderId);
        if (order) {
          const payload = { orderId: input.orderId, ...order };
          await appendEvent(client, { workflowId: input.workflowId, type: 'order.completed', aggregateId: input.orderId, payload });
        }
        return { orderId: input.orderId, status: 'COMPLETED' as const };
      });
    },

    // Compensations, registered like the shipped saga's (they run only when a forward step fails).
    async compensateOrderPlain(input: { orderId: string; reason: string }): Promise<void> {
      await withTransaction(pool, (client) => sql.setOrderStatus(client, input.orderId, 'COMPENSATED', input.reason));
    },

    async releaseStockPlain(input: { orderId: string; sku: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await sql.releaseReservation(client, input.orderId, input.sku);
      });
    },

    async refundPaymentPlain(input: { key: string; orderId: string }): Promise<void> {
      const refund = await gateway.refund({ idempotencyKey: input.key });
      if (refund.status === 'refunded') {
        await withTransaction(pool, (client) => sql.markPaymentRefunded(client, input.orderId, refund.refundId ?? null));
      }
    },
  };
}

export function createNoopActivities() {
  return {
    async noopCreate(): Promise<void> {},
    async noopReserve(): Promise<void> {},
    async noopCharge(): Promise<void> {},
    async noopConfirm(): Promise<void> {},
  };
}

export type NoIdempotencyActivities = ReturnType<typeof createNoIdempotencyActivities>;
export type NoopActivities = ReturnType<typeof createNoopActivities>;
