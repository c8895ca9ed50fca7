// The life of a saga stuck for a long time (DESIGN §10): stuck rounds back off, each run's history
// stays under a stated bound by continuing-as-new with the saga's state, the order is marked stuck
// once per episode, and validators keep refused messages out of the history.
import type { AddressInfo } from 'node:net';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { buildApiApp } from '../../apps/orders/api/app';
import { createTenant } from '../../apps/orders/domain/tenants';
import { SAGA_STATUS } from '../../apps/worker/search-attributes';
import { ORDER_NOT_CANCELLABLE, cancelOrderUpdate, sagaStateQuery, type OrderSagaState, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { resolveCompensationUpdate, HISTORY_EVENTS_PER_ROUND, SagaErrorType } from 'idempotent-sagas/workflow';
import type { PlaceOrderInput } from '../../apps/orders/workflows/place-order';
import type { TransferInput, TransferResult, TransferSagaState } from '../../apps/wallet/workflow';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { waitFor } from '../helpers/wait';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Run = { runId: string; events: HistoryEvent[] };

let stack: OrderStack;
let worker: Worker;

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100, leaseMs: 2000 });
  worker = await stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => stack.faults.replace({ seed: 1 }));

const refunds = (orderId: string): Promise<number> => stack.refunds(orderId);
const orderStatus = (orderId: string): Promise<string | undefined> => stack.orderStatus(orderId);
const heldReservations = (orderId: string): Promise<number> =>
  stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'held'`, [orderId]);
const stockOf = async (sku: string) =>
  (await stack.db.pool.query<{ on_hand: number; reserved: number; sold: number }>('SELECT on_hand, reserved, sold FROM products WHERE sku = $1', [sku]))
    .rows[0]!;

/** Every run of the workflow's continue-as-new chain, first to last, with its history. */
async function runsOf(workflowId: string, firstRunId: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let runId: string | null | undefined = firstRunId; runId;) {
    const events: HistoryEvent[] = (await stack.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push({ runId, events });
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}
const timerDurationsMs = (events: HistoryEvent[]): number[] =>
  events.flatMap((e) => (e.timerStartedEventAttributes ? [tsToMs(e.timerStartedEventAttributes.startToFireTimeout)] : []));
const acceptedUpdates = (events: HistoryEvent[], name: string): number =>
  events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === name).length;
const completedUpdates = (events: HistoryEvent[]): number => events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length;
const scheduledActivities = (events: HistoryEvent[], type: string): number =>
  events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
/** Local activities of `type` recorded in the history (one marker each, whose data names its activity type). */
const localActivities = (events: HistoryEvent[], type: string): number =>
  events.filter((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0] : undefined;
    return data !== undefined && JSON.stringify(defaultPayloadConverter.fromPayload(data)).includes(`"${type}"`);
  }).length;
const inputOf = (run: Run): PlaceOrderInput =>
  defaultPayloadConverter.fromPayload(run.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!);

/** A decision the validator refused (never written to history), as opposed to any other failure. */
const refusedBy = (err: unknown, type: string): boolean =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type;

const stuckOrder = (orderId: string, options: PlaceOrderInput['options']) => ({
  orderId,
  items: [{ sku: 'SKU-1', quantity: 2 }],
  options: { failBeforePivot: 'a later step failed', stuckAfterAttempts: 1, ...options },
});

const MAX_HISTORY_EVENTS = 200;

test('a saga stuck for 300 rounds: every run under the history bound, then one refund when the operator retries', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 }); // every refund fails
  const stockBefore = await stockOf('SKU-1');
  const started = await stack.startOrder(
    stuckOrder('long-1', { stuckRetryIntervalMs: 2, stuckRetryMaxIntervalMs: 3_600_000, maxHistoryEvents: MAX_HISTORY_EVENTS }),
  );
  const handle = stack.client.workflow.getHandle(started.workflowId); // the latest run, whichever it is
  const firstRunId = (await started.describe()).runId; // long before it can continue-as-new
  const state = (): Promise<OrderSagaState> => handle.query(sagaStateQuery);
  const rounds = async (): Promise<number> => (await state()).steps.find((s) => s.stepId === 'charge')?.compensationRounds ?? 0;

  // By itself first: 2 ms, then 4, 8, ... between rounds.
  await waitFor(async () => (await rounds()) >= 8, 'eight rounds without an operator');
  // A cancel while it compensates is refused by the validator.
  await expect(handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'too late' }] })).rejects.toMatchObject({
    cause: { type: ORDER_NOT_CANCELLABLE },
  });

  // Then the waits are long (capped at an hour): the operator drives each further round, the refund still failing.
  let accepted = 0;
  let refused = 0; // a retry arriving while a round runs (early on, racing the saga's own short waits)
  let liveComparisons = 0;
  let seenRunId = (await handle.describe()).runId;
  for (;;) {
    await waitFor(async () => (await state()).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK', 60_000);
    if ((await rounds()) >= 300) break; // read while stuck: the round's outcome is in
    const described = await handle.describe();
    if (described.runId !== seenRunId) {
      seenRunId = described.runId;
      expect(described.typedSearchAttributes.get(SAGA_STATUS)).toBe('COMPENSATION_STUCK'); // re-published by the new run
      // A run that continued-as-new while waiting: the new run, idle in the same wait, answers the same.
      const history = await stack.client.workflow.getHandle(started.workflowId, described.runId).fetchHistory();
      const previousRunId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
      const previous = await stack.client.workflow.getHandle(started.workflowId, previousRunId!).query(sagaStateQuery);
      if (previous.status === 'COMPENSATION_STUCK') {
        expect(await state()).toEqual(previous);
        liveComparisons += 1;
      }
    }
    try {
      const answer = await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
      expect(answer.status).toBe('COMPENSATING'); // the state the decision led to
      accepted += 1;
    } catch (err) {
      if (!refusedBy(err, SagaErrorType.DecisionRefused)) throw err;
      refused += 1;
    }
  }
  expect(await rounds()).toBe(300);
  expect(await refunds('long-1')).toBe(0);
  expect(await orderStatus('long-1')).toBe('COMPENSATION_STUCK');

  // The gateway recovers and the operator retries: compensated, exactly once.
  stack.faults.replace({ seed: 1 });
  const answer = await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  expect(answer.status).toBe('COMPENSATING');
  const result = (await started.result()) as PlaceOrderResult; // follows the chain to its last run
  expect(result).toEqual({ orderId: 'long-1', status: 'COMPENSATED', reason: 'INJECTED_FAILURE: a later step failed' });
  expect(await refunds('long-1')).toBe(1);
  expect(await heldReservations('long-1')).toBe(0);
  expect(await stockOf('SKU-1')).toEqual(stockBefore);
  expect(await orderStatus('long-1')).toBe('COMPENSATED');
  expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = 'long-1' AND status = 'refunded'`)).toBe(1);
  // One stuck episode, one markOrderStuck record for 300 rounds; the saga closed once.
  expect(await stack.count(`SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE 'order-long-1/stuck-%'`)).toBe(1);
  expect(await stack.count(`SELECT count(*) AS n FROM idempotency_keys WHERE key = 'order-long-1/stuck-1'`)).toBe(1);
  expect(await stack.count(`SELECT count(*) AS n FROM idempotency_sagas WHERE saga_id = 'order-long-1' AND outcome = 'COMPENSATED'`)).toBe(1);
  const final = await state();
  expect(final).toMatchObject({ status: 'COMPENSATED', pivoted: false, orderId: 'long-1', cancelRequested: false, reason: result.reason });
  expect(final.stuck).toBeUndefined();
  expect(final.steps.map((s) => [s.stepId, s.status])).toEqual([
    ['create-order', 'compensated'],
    ['reserve:SKU-1', 'compensated'],
    ['charge', 'compensated'],
  ]);
  expect(final.steps.find((s) => s.stepId === 'charge')?.compensationRounds).toBe(300);
  expect((await handle.describe()).typedSearchAttributes.get(SAGA_STATUS)).toBe('COMPENSATED');

  // The history, run by run.
  const runs = await runsOf(started.workflowId, firstRunId);
  expect(runs.length).toBeGreaterThanOrEqual(5); // continued-as-new several times
  for (const run of runs) expect(run.events.length).toBeLessThanOrEqual(MAX_HISTORY_EVENTS + HISTORY_EVENTS_PER_ROUND);
  for (const run of runs.slice(0, -1)) expect(run.events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  expect(runs.at(-1)!.events.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
  // Backoff: the first run's waits double from 2 ms up to the hour's cap.
  const waits = timerDurationsMs(runs[0]!.events);
  expect(waits.length).toBeGreaterThanOrEqual(8);
  expect(waits).toEqual(waits.map((_, i) => Math.min(3_600_000, 2 * 2 ** i)));
  // Each run carried the state its predecessor ended with (the query of the closed run).
  for (let i = 1; i < runs.length; i++) {
    const { resume } = inputOf(runs[i]!);
    const ended = await stack.client.workflow.getHandle(started.workflowId, runs[i - 1]!.runId).query(sagaStateQuery);
    expect({ orderId: 'long-1', cancelRequested: false, ...resume!.saga }).toMatchObject(ended);
    expect(resume!.saga.episodes).toBe(1);
  }
  expect(liveComparisons).toBeGreaterThanOrEqual(1);
  const all = runs.flatMap((r) => r.events);
  expect(scheduledActivities(all, 'markOrderStuck')).toBe(1);
  expect(localActivities(all, 'closeSaga')).toBe(1); // the order saga's local steps are local activities
  expect(scheduledActivities(all, 'closeSaga')).toBe(0);
  expect(scheduledActivities(all, 'refundPayment')).toBe(301);
  // Only accepted decisions are in the history; refused ones (and the refused cancel) are not.
  expect(acceptedUpdates(all, 'resolveCompensation')).toBe(accepted + 1);
  expect(completedUpdates(all)).toBe(accepted + 1);
  expect(acceptedUpdates(all, 'cancelOrder')).toBe(0);
  expect(accepted + refused).toBeGreaterThanOrEqual(300 - 8);
}, 600_000);

test('a refused cancel leaves no trace in the history; a second decision while one is pending is refused', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 });
  const tenant = await createTenant(stack.db.pool, 'Tenant P');
  const started = await stack.startOrder({ ...stuckOrder('pending-1', { stuckRetryIntervalMs: 600_000 }), tenantId: tenant.tenantId });
  const handle: WorkflowHandle = stack.client.workflow.getHandle(started.workflowId);
  // Idle in its stuck wait (the last event its timer), so any further event would be the cancel's.
  await waitFor(async () => Boolean((await handle.fetchHistory()).events?.at(-1)?.timerStartedEventAttributes), 'the stuck wait');
  expect((await handle.query(sagaStateQuery)).status).toBe('COMPENSATION_STUCK');
  const eventsBefore = (await handle.fetchHistory()).events?.length;

  const refusedCancel = handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'changed my mind' }] });
  await expect(refusedCancel).rejects.toThrow(WorkflowUpdateFailedError);
  await expect(refusedCancel).rejects.toMatchObject({ cause: { type: ORDER_NOT_CANCELLABLE, message: 'the order is already COMPENSATION_STUCK' } });
  // Over HTTP: 409 problem+json with the validator's reason.
  const api = buildApiApp({ pool: stack.db.pool, store: stack.store, temporal: { client: stack.client, taskQueue: stack.taskQueue } });
  try {
    await api.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`http://127.0.0.1:${(api.server.address() as AddressInfo).port}/v1/orders/pending-1/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'changed my mind' }),
    });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 409, detail: 'the order is already COMPENSATION_STUCK' });
  } finally {
    await api.close();
  }
  const afterCancel = (await handle.fetchHistory()).events ?? [];
  expect(afterCancel.length).toBe(eventsBefore); // not one event: no workflow task, no update event
  expect(acceptedUpdates(afterCancel, 'cancelOrder')).toBe(0);

  // Two operator decisions delivered in one activation: the worker is away while both arrive.
  worker.shutdown();
  await waitFor(async () => worker.getState() === 'STOPPED', 'the worker to stop');
  const retry = handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  const skip = handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'skip', reason: 'refunded by hand, ticket OPS-7' }] });
  await new Promise((r) => setTimeout(r, 1500)); // both admitted by the server, neither delivered
  worker = await stack.startWorker();
  const outcomes = await Promise.allSettled([retry, skip]);
  const fulfilled = outcomes.filter((o) => o.status === 'fulfilled');
  const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
  expect(fulfilled).toHaveLength(1);
  expect(rejected).toHaveLength(1);
  expect(refusedBy(rejected[0], SagaErrorType.DecisionRefused)).toBe(true);
  expect((rejected[0] as WorkflowUpdateFailedError).cause?.message).toMatch(/^an operator decision \((retry|skip)\) is pending/);
  expect(acceptedUpdates((await handle.fetchHistory()).events ?? [], 'resolveCompensation')).toBe(1);

  // Whichever stood is carried out; the saga then ends consistently.
  const skipped = outcomes[1].status === 'fulfilled';
  if (!skipped) {
    await waitFor(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_STUCK', 'stuck again (the refund still fails)');
    stack.faults.replace({ seed: 1 });
    await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  }
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPENSATED');
  expect(await refunds('pending-1')).toBe(skipped ? 0 : 1);
  expect(await heldReservations('pending-1')).toBe(0);
  expect(await orderStatus('pending-1')).toBe('COMPENSATED');
  const charge = (await handle.query(sagaStateQuery)).steps.find((s) => s.stepId === 'charge');
  expect(charge?.status).toBe(skipped ? 'skipped' : 'compensated');
}, 120_000);

test('a stuck transfer continues-as-new with its state; once the ledger recovers and an operator retries, each move is reversed once', async () => {
  await stack.db.pool.query(`INSERT INTO wallets (id, balance_cents) VALUES ('ann', 5000), ('ben', 0)`);
  // The credit's reversal fails until the trigger is dropped (a ledger outage).
  await stack.db.pool.query(
    `CREATE FUNCTION fail_credit_reversal() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'ledger unavailable (injected)'; END $$`,
  );
  await stack.db.pool.query(
    `CREATE TRIGGER fail_credit_reversal BEFORE INSERT ON ledger_entries FOR EACH ROW WHEN (NEW.kind = 'credit-reversal') EXECUTE FUNCTION fail_credit_reversal()`,
  );
  const maxHistoryEvents = 60;
  const started = await stack.client.workflow.start('transferFunds', {
    taskQueue: stack.taskQueue,
    workflowId: 'transfer-t-long',
    args: [
      {
        transferId: 't-long',
        from: 'ann',
        to: 'ben',
        amountCents: 1200,
        options: { failAfterDebit: 'fraud check failed', stuckAfterAttempts: 1, stuckRetryIntervalMs: 600_000, maxHistoryEvents },
      } satisfies TransferInput,
    ],
  });
  const handle = stack.client.workflow.getHandle('transfer-t-long');
  const state = (): Promise<TransferSagaState> => handle.query<TransferSagaState>('sagaState');
  const runIds = new Set<string>();
  let retries = 0;
  for (;;) {
    await waitFor(async () => (await state()).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK');
    runIds.add((await handle.describe()).runId);
    if (runIds.size >= 3) break; // continued-as-new twice
    await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
    retries += 1;
  }
  const stuck = await state();
  expect(stuck).toMatchObject({ transferId: 't-long', pivoted: false, reason: 'INJECTED_FAILURE: fraud check failed', stuck: { stepId: 'credit' } });
  expect(stuck.steps.map((s) => [s.stepId, s.status])).toEqual([
    ['debit', 'applied'],
    ['credit', 'compensating'],
  ]);
  expect(stuck.steps[1]?.compensationRounds).toBe(retries + 1);
  expect(stuck.steps[1]?.error).toMatch(/ledger unavailable/);

  await stack.db.pool.query('DROP TRIGGER fail_credit_reversal ON ledger_entries');
  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  const result = (await started.result()) as TransferResult;
  expect(result).toEqual({ transferId: 't-long', status: 'COMPENSATED', reason: 'INJECTED_FAILURE: fraud check failed' });
  for (const kind of ['debit', 'credit', 'debit-reversal', 'credit-reversal']) {
    expect(await stack.count(`SELECT count(*) AS n FROM ledger_entries WHERE transfer_id = 't-long' AND kind = $1`, [kind])).toBe(1);
  }
  expect(await stack.count(`SELECT balance_cents AS n FROM wallets WHERE id = 'ann'`)).toBe(5000);
  expect(await stack.count(`SELECT balance_cents AS n FROM wallets WHERE id = 'ben'`)).toBe(0);
  expect(await stack.count(`SELECT count(*) AS n FROM idempotency_sagas WHERE saga_id = 'transfer-t-long' AND outcome = 'COMPENSATED'`)).toBe(1);
  const final = await state();
  expect(final).toMatchObject({ status: 'COMPENSATED', transferId: 't-long' });
  expect(final.steps.map((s) => [s.stepId, s.status, s.compensationRounds])).toEqual([
    ['debit', 'compensated', undefined],
    ['credit', 'compensated', retries + 1],
  ]);

  const runs = await runsOf('transfer-t-long', started.firstExecutionRunId);
  expect(runs.length).toBe(3);
  for (const run of runs) expect(run.events.length).toBeLessThanOrEqual(maxHistoryEvents + HISTORY_EVENTS_PER_ROUND);
  const all = runs.flatMap((r) => r.events);
  expect(scheduledActivities(all, 'reverseCredit')).toBe(retries + 2);
  expect(scheduledActivities(all, 'reverseDebit')).toBe(1);
  expect(scheduledActivities(all, 'closeSaga')).toBe(1);
  expect(acceptedUpdates(all, 'resolveCompensation')).toBe(retries + 1);
}, 180_000);
