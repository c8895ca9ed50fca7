// Benchmark-only workflows for `npm run bench:saga`, bundled separately from workflows/.
//
// placeOrderNoIdempotency: the shape of workflows/place-order.ts (the same Saga helper, step IDs,
//   compensations registered before each step, the pivot, local steps as local activities) calling
//   activities that do the same SQL without the idempotency store.
// noopSaga: the same number of activities (create, one reserve per item, charge, confirm), each a
//   no-op regular activity, with no saga helper: Temporal's regular path on this machine.
import { ApplicationFailure, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { OrderItem } from '../../apps/orders/domain/types';
import { Saga } from 'idempotent-sagas/workflow';
import { publishSagaStatus } from '../../apps/worker/saga-status';
import type { NoIdempotencyActivities, NoopActivities } from './activities';

export type BenchOrderInput = { orderId: string; tenantId: string; items: OrderItem[]; currency: string; paymentToken: string };
export type BenchOrderResult = { orderId: string; status: 'COMPLETED'; chargeId?: string; totalCents?: number };

// The same activity options as the shipped saga.
const retry = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds' } as const;
// Local effects as local activities, as the shipped saga runs them.
const forward = proxyLocalActivities<NoIdempotencyActivities>({ startToCloseTimeout: '20 seconds', retry });
const compensations = proxyActivities<NoIdempotencyActivities>({
  startToCloseTimeout: '20 seconds',
  heartbeatTimeout: '10 seconds',
  retry: { ...retry, maximumAttempts: 5 },
});
const payments = proxyActivities<NoIdempotencyActivities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: '10 seconds',
  retry: { ...retry, maximumAttempts: 6 },
});
const noop = proxyActivities<NoopActivities>({ startToCloseTimeout: '20 seconds', retry });

export async function placeOrderNoIdempotency(input: BenchOrderInput): Promise<BenchOrderResult> {
  const { workflowId } = workflowInfo();
  const saga = new Saga({ workflowId, stuckRetryIntervalMs: 600_000, onStatus: publishSagaStatus });
  try {
    const created = await saga.step(
      'create-order',
      () => forward.createOrderPlain({ orderId: input.orderId, workflowId, tenantId: input.tenantId, items: input.items, currency: input.currency }),
      () => compensations.compensateOrderPlain({ orderId: input.orderId, reason: saga.state().reason ?? 'compensated' }),
    );
    for (const item of input.items) {
      await saga.step(
        `reserve:${item.sku}`,
        () => forward.reserveStockPlain({ orderId: input.orderId, sku: item.sku, quantity: item.quantity }),
        () => compensations.releaseStockPlain({ orderId: input.orderId, sku: item.sku }),
      );
    }
    const charge = await saga.step(
      'charge',
      async ({ forwardKey: key }) => {
        const outcome = await payments.chargePaymentPlain({
          key,
          orderId: input.orderId,
          amountCents: created.totalCents,
          currency: created.currency,
          paymentToken: input.paymentToken,
        });
        if (outcome.status !== 'captured') throw ApplicationFailure.nonRetryable('the benchmark expects captured charges', 'PENDING_CHARGE');
        return outcome;
      },
      ({ forwardKey: key }) => compensations.refundPaymentPlain({ key, orderId: input.orderId }),
    );
    await saga.pivot('confirm', () => forward.confirmOrderPlain({ orderId: input.orderId, workflowId }));
    saga.complete();
    return { orderId: input.orderId, status: 'COMPLETED', chargeId: charge.chargeId, totalCents: created.totalCents };
  } catch (err) {
    if (saga.isPivoted) throw err;
    await saga.compensate(err instanceof Error ? err.message : String(err));
    throw err; // the benchmark counts only completed sagas
  }
}

export async function noopSaga(input: BenchOrderInput): Promise<BenchOrderResult> {
  await noop.noopCreate();
  for (let i = 0; i < input.items.length; i += 1) await noop.noopReserve();
  await noop.noopCharge();
  await noop.noopConfirm();
  return { orderId: input.orderId, status: 'COMPLETED' };
}
