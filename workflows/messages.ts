// The order saga's messages: result, query and updates. Safe to import outside the sandbox (API, tests).
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OperatorDecision, SagaState } from './saga';

export type PlaceOrderResult = { orderId: string; status: 'COMPLETED' | 'COMPENSATED'; reason?: string; chargeId?: string; totalCents?: number };
export type CancelAnswer = { accepted: boolean; message: string };
export type OrderSagaState = SagaState & { orderId: string; cancelRequested: boolean };

export const sagaStateQuery = defineQuery<OrderSagaState>('sagaState');
export const cancelOrderUpdate = defineUpdate<CancelAnswer, [{ reason?: string }]>('cancelOrder');
export const resolveCompensationUpdate = defineUpdate<SagaState, [OperatorDecision]>('resolveCompensation');

/** Failure type of the demonstration fault `failBeforePivot`. */
export const INJECTED_FAILURE = 'INJECTED_FAILURE';
