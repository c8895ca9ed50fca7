// Compensations that fail: transiently (retried to success) and permanently (COMPENSATION_STUCK,
// visible by query, search attribute and on the order; an operator retries or skips with a reason).
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SAGA_STATUS } from '../../apps/worker/search-attributes';
import { sagaStateQuery, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { resolveCompensationUpdate, SagaErrorType } from 'idempotent-sagas/workflow';
import { waitFor } from '../helpers/wait';
import { useOrderStack } from '../helpers/order-stack';

const stack = useOrderStack({ stock: 100, leaseMs: 2000 });

/** Whether the order ever went to the operator: first_stuck_at survives the operator's decision. */
const wentToOperator = (orderId: string): Promise<number> =>
  stack.count('SELECT count(*) AS n FROM orders WHERE id = $1 AND first_stuck_at IS NOT NULL', [orderId]);

const failingOrder = (orderId: string, paymentToken = 'tok_visa') => ({
  orderId,
  paymentToken,
  items: [{ sku: 'SKU-1', quantity: 1 }],
  options: { failBeforePivot: 'a later step failed', stuckAfterAttempts: 2 },
});

test('a refund failing transiently is retried to success: one refund, never stuck', async () => {
  const handle = await stack.startOrder({
    ...failingOrder('transient-1', 'tok_refund_fail_2'),
    options: { failBeforePivot: 'a later step failed', stuckAfterAttempts: 5 },
  });
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPENSATED');
  expect(await stack.refunds('transient-1')).toBe(1);
  expect(await stack.count(`SELECT attempts AS n FROM gateway_key_attempts WHERE idempotency_key = 'refund:order-transient-1/charge'`)).toBe(3);
  const state = await handle.query(sagaStateQuery);
  expect(state.steps.find((s) => s.stepId === 'charge')).toMatchObject({ status: 'compensated' });
  expect(state.steps.every((s) => s.compensationRounds === undefined)).toBe(true);
  expect(await stack.orderStatus('transient-1')).toBe('COMPENSATED');
  expect(await wentToOperator('transient-1')).toBe(0);
});

test('a refund failing permanently: COMPENSATION_STUCK everywhere, then an operator retry compensates once', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 });
  const handle = await stack.startOrder(failingOrder('stuck-1'));
  await waitFor(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK');

  const state = await handle.query(sagaStateQuery);
  expect(state.stuck).toMatchObject({ stepId: 'charge', rounds: 1 });
  expect(state.stuck?.error).toMatch(/503|unavailable/i);
  // Later compensations wait: the reservation is still held, and nothing was refunded.
  expect(state.steps.find((s) => s.stepId === 'reserve:SKU-1')).toMatchObject({ status: 'applied' });
  await waitFor(async () => (await stack.orderStatus('stuck-1')) === 'COMPENSATION_STUCK', 'the order row to show it');
  const described = await handle.describe();
  expect(described.typedSearchAttributes.get(SAGA_STATUS)).toBe('COMPENSATION_STUCK');
  expect(await stack.refunds('stuck-1')).toBe(0);

  stack.faults.replace({ seed: 1 }); // the operator fixed the gateway
  const after = await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  expect(after.status).toBe('COMPENSATING');
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result).toMatchObject({ status: 'COMPENSATED', reason: 'INJECTED_FAILURE: a later step failed' });
  expect(await stack.refunds('stuck-1')).toBe(1);
  expect(await stack.orderStatus('stuck-1')).toBe('COMPENSATED');
  expect(await wentToOperator('stuck-1')).toBe(1);
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'stuck-1' AND status = 'held'`)).toBe(0);
  expect((await handle.describe()).typedSearchAttributes.get(SAGA_STATUS)).toBe('COMPENSATED');
});

test('an operator may skip a stuck compensation, with a recorded reason; decisions are validated', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 });
  const handle = await stack.startOrder(failingOrder('skip-1'));
  await waitFor(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK');

  const decisionsAccepted = async (): Promise<number> =>
    ((await handle.fetchHistory()).events ?? []).filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'resolveCompensation',
    ).length;
  /** The failure an update was refused with (undefined when it was not refused). */
  const refusal = (decision: unknown): Promise<unknown> =>
    handle.executeUpdate(resolveCompensationUpdate, { args: [decision as { action: 'retry' }] }).then(
      () => undefined,
      (err: unknown) => err,
    );
  // Refused by the validator, before anything is written: a skip without a reason, an unknown action.
  for (const [decision, message] of [
    [{ action: 'skip', reason: ' ' }, 'skipping a compensation needs a reason'],
    [{ action: 'undo' }, 'unknown action "undo": retry or skip'],
  ] as const) {
    const err = await refusal(decision);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: SagaErrorType.DecisionRefused, message, nonRetryable: true });
  }
  expect(SagaErrorType.DecisionRefused).toBe('OPERATOR_DECISION_REFUSED');
  expect(await decisionsAccepted()).toBe(0);
  // Still stuck, the charge neither skipped nor compensated.
  expect(await handle.query(sagaStateQuery)).toMatchObject({ status: 'COMPENSATION_STUCK', stuck: { stepId: 'charge' } });
  expect((await handle.query(sagaStateQuery)).steps.find((s) => s.stepId === 'charge')).toMatchObject({ status: 'compensating' });

  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'skip', reason: 'refunded by hand, ticket OPS-42' }] });
  expect(await decisionsAccepted()).toBe(1);
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPENSATED');
  const state = await handle.query(sagaStateQuery);
  expect(state.steps.find((s) => s.stepId === 'charge')).toMatchObject({ status: 'skipped', skipReason: 'refunded by hand, ticket OPS-42' });
  expect(state.steps.find((s) => s.stepId === 'reserve:SKU-1')).toMatchObject({ status: 'compensated' });
  expect(await stack.refunds('skip-1')).toBe(0);
  // Closed: a decision now cannot even reach the workflow, and the history still holds only the one accepted.
  await expect(handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] })).rejects.toThrow(/completed/i);
  expect(await decisionsAccepted()).toBe(1);
});
