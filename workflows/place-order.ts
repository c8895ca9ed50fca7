// The order saga: create order -> reserve each item -> charge -> confirm (the pivot).
// Every key is `${workflowId}/${stepId}`, computed here and passed to the activity.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ChargeOutcome } from '../activities';
import type { OrderItem } from '../src/domain/types';
import {
  INJECTED_FAILURE,
  cancelOrderUpdate,
  paymentConfirmedSignal,
  resolveCompensationUpdate,
  sagaStateQuery,
  type PaymentConfirmation,
  type PaymentConfirmationState,
  type PlaceOrderResult,
} from './messages';
import { DEFAULT_STUCK_AFTER_ATTEMPTS, Saga, describeFailure, type OperatorDecision } from './saga';

export type PlaceOrderInput = {
  orderId: string;
  tenantId: string;
  items: OrderItem[];
  currency: string;
  paymentToken: string;
  options?: {
    /** Activity attempts per compensation round before the saga reports COMPENSATION_STUCK. Default 10 (about 26 s of backoff). */
    stuckAfterAttempts?: number;
    /** How long a stuck saga waits for an operator before retrying by itself, in ms. Default 10 minutes. */
    stuckRetryIntervalMs?: number;
    /** Charge attempts before an ambiguous charge is reconciled by key. Default 6. */
    chargeAttempts?: number;
    /** How long a pending charge waits for the gateway's webhook before reconciling by key anyway, in ms. Default 30 s. */
    paymentConfirmationTimeoutMs?: number;
    /** Demonstration fault: a later step fails after the payment, before the pivot. */
    failBeforePivot?: string;
  };
};


const forward = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds' },
});

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
  const { workflowId } = workflowInfo();
  const opts = input.options ?? {};
  const compensations = proxyActivities<Activities>({
    startToCloseTimeout: '20 seconds',
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: '200 milliseconds',
      backoffCoefficient: 2,
      maximumInterval: '5 seconds',
      maximumAttempts: opts.stuckAfterAttempts ?? DEFAULT_STUCK_AFTER_ATTEMPTS,
    },
  });
  const payments = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: opts.chargeAttempts ?? 6 },
  });

  let stuckEpisodes = 0;
  const saga = new Saga({
    workflowId,
    stuckRetryIntervalMs: opts.stuckRetryIntervalMs ?? 600_000,
    onStuck: async (stuck) => {
      stuckEpisodes += 1;
      await forward.markOrderStuck({
        key: `${workflowId}/stuck-${stuckEpisodes}`,
        orderId: input.orderId,
        reason: `compensation of ${stuck.stepId} failed ${stuck.rounds} time(s): ${stuck.error}`,
      });
    },
  });

  const forwardScope = new CancellationScope();
  let cancelReason: string | undefined;
  // A pending charge: the webhook's signal only shortens the wait; reconciliation by key decides.
  let confirmation: PaymentConfirmation | undefined;
  let confirmationWait: PaymentConfirmationState['state'] | undefined;
  let confirmationSignals = 0;
  setHandler(paymentConfirmedSignal, (signal) => {
    confirmationSignals += 1; // redeliveries are counted, and ignored: only the first one is acted on
    confirmation ??= signal;
  });
  setHandler(sagaStateQuery, () => ({
    ...saga.state(),
    orderId: input.orderId,
    cancelRequested: cancelReason !== undefined,
    ...(confirmationWait && { paymentConfirmation: { state: confirmationWait, signals: confirmationSignals, eventId: confirmation?.eventId } }),
  }));
  setHandler(cancelOrderUpdate, ({ reason }) => {
    if (saga.isPivoted) return { accepted: false, message: 'the order is already being confirmed; it can no longer be cancelled' };
    if (saga.state().status !== 'RUNNING') return { accepted: false, message: `the order is already ${saga.state().status}` };
    cancelReason = `cancelled: ${reason ?? 'requested by the customer'}`;
    forwardScope.cancel();
    return { accepted: true, message: 'cancellation accepted; the order is being compensated' };
  });
  setHandler(
    resolveCompensationUpdate,
    async (decision) => {
      saga.decide(decision);
      await condition(() => saga.state().status !== 'COMPENSATION_STUCK'); // answer with the state the decision led to
      return saga.state();
    },
    { validator: (decision: OperatorDecision) => saga.validateDecision(decision) },
  );

  let created: Awaited<ReturnType<Activities['createOrder']>>;
  let charge: ChargeOutcome;
  try {
    ({ created, charge } = await forwardScope.run(async () => {
      const created = await saga.step(
        'create-order',
        ({ forwardKey: key }) => forward.createOrder({ key, orderId: input.orderId, tenantId: input.tenantId, items: input.items, currency: input.currency }),
        ({ forwardKey }) => compensations.compensateOrder({ forwardKey, orderId: input.orderId, reason: cancelReason ?? saga.state().reason ?? 'compensated' }),
      );
      for (const item of input.items) {
        await saga.step(
          `reserve:${item.sku}`,
          ({ forwardKey: key }) => forward.reserveStock({ key, orderId: input.orderId, sku: item.sku, quantity: item.quantity }),
          ({ forwardKey }) => compensations.releaseStock({ forwardKey, orderId: input.orderId, sku: item.sku }),
        );
      }
      const chargeInput = { orderId: input.orderId, amountCents: created.totalCents, currency: created.currency, paymentToken: input.paymentToken };
      const charge = await saga.step(
        'charge',
        async ({ forwardKey: key }) => {
          let outcome: ChargeOutcome;
          try {
            outcome = await payments.chargePayment({ key, ...chargeInput });
          } catch (err) {
            // Ambiguity that outlived the retries is resolved by asking the gateway by key, never by guessing.
            if (!isAmbiguous(err)) throw err;
            return await forward.reconcileCharge({ key, ...chargeInput });
          }
          if (outcome.status !== 'pending') return outcome;
          // Pending: wait for the webhook (or not), then ask the gateway by key either way.
          confirmationWait = 'waiting';
          const signalled = await condition(() => confirmation !== undefined, opts.paymentConfirmationTimeoutMs ?? 30_000);
          confirmationWait = signalled ? 'signalled' : 'timed-out';
          return await forward.reconcileCharge({ key, ...chargeInput });
        },
        ({ forwardKey, compensationKey }) => compensations.refundPayment({ forwardKey, compensationKey, orderId: input.orderId }),
      );
      if (opts.failBeforePivot) throw ApplicationFailure.nonRetryable(opts.failBeforePivot, INJECTED_FAILURE);
      return { created, charge };
    }));
  } catch (err) {
    const reason = cancelReason ?? reasonOf(err);
    await saga.compensate(reason);
    if (isCancellation(err) && cancelReason === undefined) throw err; // workflow cancellation: end as cancelled, after compensating
    return { orderId: input.orderId, status: 'COMPENSATED', reason };
  }

  await saga.pivot('confirm', ({ forwardKey: key }) => forward.confirmOrder({ key, orderId: input.orderId }));
  saga.complete();
  return { orderId: input.orderId, status: 'COMPLETED', chargeId: charge.chargeId, totalCents: created.totalCents };
}

function reasonOf(err: unknown): string {
  if (isCancellation(err)) return 'cancelled: workflow cancellation requested';
  const { type, message } = describeFailure(err);
  return `${type}: ${message}`;
}

/** Retries ran out on an answer that may or may not have applied at the gateway. */
function isAmbiguous(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return false;
  const { type } = describeFailure(err);
  return type === 'GATEWAY_AMBIGUOUS' || type === 'IDEMPOTENCY_IN_PROGRESS' || type === 'IDEMPOTENCY_STALE_EPOCH';
}
