// The order saga's messages: result, query and updates. Safe to import outside the sandbox (API, tests).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SagaState } from 'idempotent-sagas/workflow';

export type PlaceOrderResult = { orderId: string; status: 'COMPLETED' | 'COMPENSATED'; reason?: string; chargeId?: string; totalCents?: number };
/** A refused cancel is rejected by the update's validator (ORDER_NOT_CANCELLABLE); `accepted: false` only in histories recorded before it. */
export type CancelAnswer = { accepted: boolean; message: string };
/** A pending charge's confirmation, once the gateway's webhook arrived (`status` as the gateway reported it). */
export type PaymentConfirmation = { eventId: string; chargeId: string; status: string };
/** Where a pending charge stands: waiting for the webhook, then reconciled by key either way. */
export type PaymentConfirmationState = {
  state: 'waiting' | 'signalled' | 'timed-out';
  /** paymentConfirmed signals received; only the first one is acted on. */
  signals: number;
  eventId?: string;
};
export type OrderSagaState = SagaState & { orderId: string; cancelRequested: boolean; paymentConfirmation?: PaymentConfirmationState };

export const sagaStateQuery = defineQuery<OrderSagaState>('sagaState');
export const cancelOrderUpdate = defineUpdate<CancelAnswer, [{ reason?: string }]>('cancelOrder');
/** Sent by the API's payment webhook; the saga waits for the first one after a pending charge. */
export const paymentConfirmedSignal = defineSignal<[PaymentConfirmation]>('paymentConfirmed');

/** Failure type of a cancelOrder refused by its validator (after the pivot, or not RUNNING); nothing is written to history. */
export const ORDER_NOT_CANCELLABLE = 'ORDER_NOT_CANCELLABLE';

/** Failure type of the demonstration fault `failBeforePivot`. */
export const INJECTED_FAILURE = 'INJECTED_FAILURE';

/** The order saga's current shape (PlaceOrderInput.shape): the saga-lifetime-v1 and local-steps-v1 behaviour, decided by the input. */
export const ORDER_SAGA_SHAPE = 2;
