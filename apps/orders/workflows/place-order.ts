// The order saga: create order -> reserve each item -> charge -> confirm (the pivot).
// Every key is `${workflowId}/${stepId}`, computed here and passed to the activity.
// A run resumed by continue-as-new (input.resume) skips the forward phase and goes on compensating.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ChargeOutcome } from '../../worker/activities';
import { LOCAL_STEPS_PATCH, appSagaOptions, compensationActivities, forward, localForward, sagaCloser } from '../../worker/saga-plumbing';
import type { OrderItem } from '../domain/types';
import {
  INJECTED_FAILURE,
  ORDER_NOT_CANCELLABLE,
  ORDER_SAGA_SHAPE,
  cancelOrderUpdate,
  paymentConfirmedSignal,
  sagaStateQuery,
  type PaymentConfirmation,
  type PaymentConfirmationState,
  type PlaceOrderResult,
} from './messages';
import { SAGA_LIFETIME_PATCH, Saga, describeFailure, handleOperatorDecisions } from 'idempotent-sagas/workflow';
import type { Compensation, SagaLifetimeOptions, SagaSnapshot } from 'idempotent-sagas/workflow';

export type PlaceOrderInput = {
  orderId: string;
  tenantId: string;
  items: OrderItem[];
  currency: string;
  paymentToken: string;
  options?: SagaLifetimeOptions & {
    /** Charge attempts before an ambiguous charge is reconciled by key. Default 6. */
    chargeAttempts?: number;
    /** How long a pending charge waits for the gateway's webhook before reconciling by key anyway, in ms. Default 30 s. */
    paymentConfirmationTimeoutMs?: number;
    /** Demonstration fault: a later step fails after the payment, before the pivot. */
    failBeforePivot?: string;
    /** The local steps (order, reservations, confirm, close) as regular activities, the classic shape: for comparison. Default false. */
    classicSteps?: boolean;
  };
  /**
   * ORDER_SAGA_SHAPE from a starter of this code: the saga runs its current shape (lifetime, local steps) without
   * asking its patches, so its history holds no patch markers and none of the search-attribute upserts the SDK adds
   * to each. Without it, the markers decide, as for every history started before. Set it only once every worker
   * runs code that knows it.
   */
  shape?: typeof ORDER_SAGA_SHAPE;
  /** Set by the saga itself when it continues-as-new while compensating; never by a caller. */
  resume?: PlaceOrderResume;
};

/** What a compensating order saga carries into its next run, besides its input. */
export type PlaceOrderResume = {
  saga: SagaSnapshot;
  /** The customer's cancel reason, when a cancel started the compensation. */
  cancelReason?: string;
  /** A workflow cancellation started the compensation: the last run still returns COMPENSATED (with that reason). */
  workflowCancelled?: boolean;
  paymentConfirmation?: PaymentConfirmationState;
};

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
  // The shape from the input when a starter gave it (no patch asked, no marker recorded); otherwise evaluated
  // once, before any command: histories recorded without a marker replay the old sequence.
  const current = input.shape === ORDER_SAGA_SHAPE;
  const lifetime = current || patched(SAGA_LIFETIME_PATCH);
  // The same order of patch calls in every run: each marker is recorded before the first command.
  const localSteps = (current || patched(LOCAL_STEPS_PATCH)) && !input.options?.classicSteps;
  const { workflowId } = workflowInfo();
  const opts = input.options ?? {};
  const resume = input.resume;
  if (resume && !lifetime) throw new Error('a resumed order saga always carries the saga-lifetime-v1 marker');
  const compensations = compensationActivities(opts.stuckAfterAttempts, { heartbeatTimeout: '10 seconds' });
  const payments = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: opts.chargeAttempts ?? 6 },
  });

  let cancelReason = resume?.cancelReason;
  let workflowCancelled = resume?.workflowCancelled ?? false;
  // A pending charge: the webhook's signal only shortens the wait; reconciliation by key decides.
  let confirmation: PaymentConfirmation | undefined;
  let confirmationWait: PaymentConfirmationState['state'] | undefined = resume?.paymentConfirmation?.state;
  let confirmationSignals = resume?.paymentConfirmation?.signals ?? 0;
  const paymentConfirmationState = (): PaymentConfirmationState | undefined =>
    confirmationWait && { state: confirmationWait, signals: confirmationSignals, eventId: confirmation?.eventId ?? resume?.paymentConfirmation?.eventId };

  // The compensation of each step, by step ID: used when the step runs and to resume after continue-as-new.
  const compensationFor = (stepId: string): Compensation | undefined => {
    if (stepId === 'create-order') {
      return ({ forwardKey }) =>
        compensations.compensateOrder({ forwardKey, orderId: input.orderId, reason: cancelReason ?? saga.state().reason ?? 'compensated' });
    }
    if (stepId === 'charge') return ({ forwardKey, compensationKey }) => compensations.refundPayment({ forwardKey, compensationKey, orderId: input.orderId });
    if (stepId.startsWith('reserve:')) {
      const sku = stepId.slice('reserve:'.length);
      return ({ forwardKey }) => compensations.releaseStock({ forwardKey, orderId: input.orderId, sku });
    }
    return undefined;
  };
  const compensationOf = (stepId: string): Compensation => {
    const compensate = compensationFor(stepId);
    if (!compensate) throw new Error(`no compensation for step ${stepId}`);
    return compensate;
  };

  const continueAsNew = makeContinueAsNewFunc<typeof placeOrder>({ memo: workflowInfo().memo });
  const sagaOptions = appSagaOptions({
    workflowId,
    lifetime,
    options: opts,
    // Once per stuck episode; the episode number is carried across runs, so the key is never reused.
    onStuck: async (stuck, episode) => {
      await forward.markOrderStuck({
        key: `${workflowId}/stuck-${episode}`,
        orderId: input.orderId,
        reason: `compensation of ${stuck.stepId} failed ${stuck.rounds} time(s): ${stuck.error}`,
      });
    },
    continueAsNew: (snapshot) => {
      const paymentConfirmation = paymentConfirmationState();
      return continueAsNew({
        ...input,
        resume: {
          saga: snapshot,
          ...(cancelReason !== undefined && { cancelReason }),
          ...(workflowCancelled && { workflowCancelled }),
          ...(paymentConfirmation && { paymentConfirmation }),
        },
      });
    },
  });
  const saga = resume ? Saga.resume(resume.saga, sagaOptions, compensationFor) : new Saga(sagaOptions);
  // Local effects run as local activities: no task dispatch of their own (the charge stays a regular activity).
  const local = localSteps ? localForward : forward;
  const close = sagaCloser(lifetime, workflowId, local);

  const forwardScope = new CancellationScope();
  setHandler(paymentConfirmedSignal, (signal) => {
    confirmationSignals += 1; // redeliveries are counted, and ignored: only the first one is acted on
    confirmation ??= signal;
  });
  setHandler(sagaStateQuery, () => ({
    ...saga.state(),
    orderId: input.orderId,
    cancelRequested: cancelReason !== undefined,
    ...(confirmationWait && { paymentConfirmation: paymentConfirmationState() }),
  }));
  // Why a cancel cannot be accepted now; the validator refuses it before anything is written to history.
  const cancelRefusal = (): string | undefined => {
    if (saga.isPivoted) return 'the order is already being confirmed; it can no longer be cancelled';
    if (saga.state().status !== 'RUNNING') return `the order is already ${saga.state().status}`;
    return undefined;
  };
  setHandler(
    cancelOrderUpdate,
    ({ reason }) => {
      const refusal = cancelRefusal();
      if (refusal) return { accepted: false, message: refusal }; // reached only replaying histories from before the validator
      cancelReason = `cancelled: ${reason ?? 'requested by the customer'}`;
      forwardScope.cancel();
      return { accepted: true, message: 'cancellation accepted; the order is being compensated' };
    },
    {
      validator: (_args: { reason?: string }) => {
        const refusal = cancelRefusal() ?? (cancelReason !== undefined ? 'the order is already being cancelled' : undefined);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, ORDER_NOT_CANCELLABLE);
      },
    },
  );
  handleOperatorDecisions(saga);

  if (resume) {
    // The forward phase ended in an earlier run: go on compensating, newest first.
    await saga.compensate(resume.saga.reason);
    await close('COMPENSATED');
    return { orderId: input.orderId, status: 'COMPENSATED', reason: resume.saga.reason };
  }

  let created: Awaited<ReturnType<Activities['createOrder']>>;
  let charge: ChargeOutcome;
  try {
    ({ created, charge } = await forwardScope.run(async () => {
      const created = await saga.step(
        'create-order',
        ({ forwardKey: key }) => local.createOrder({ key, orderId: input.orderId, tenantId: input.tenantId, items: input.items, currency: input.currency }),
        compensationOf('create-order'),
      );
      for (const item of input.items) {
        await saga.step(
          `reserve:${item.sku}`,
          ({ forwardKey: key }) => local.reserveStock({ key, orderId: input.orderId, sku: item.sku, quantity: item.quantity }),
          compensationOf(`reserve:${item.sku}`),
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
        compensationOf('charge'),
      );
      if (opts.failBeforePivot) throw ApplicationFailure.nonRetryable(opts.failBeforePivot, INJECTED_FAILURE);
      return { created, charge };
    }));
  } catch (err) {
    const reason = cancelReason ?? reasonOf(err);
    workflowCancelled = isCancellation(err) && cancelReason === undefined;
    await saga.compensate(reason);
    await close('COMPENSATED');
    if (workflowCancelled) throw err; // workflow cancellation: end as cancelled, after compensating
    return { orderId: input.orderId, status: 'COMPENSATED', reason };
  }

  await saga.pivot('confirm', ({ forwardKey: key }) => local.confirmOrder({ key, orderId: input.orderId }));
  saga.complete();
  await close('COMPLETED');
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
