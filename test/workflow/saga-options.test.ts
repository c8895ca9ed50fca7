// The saga options users of other engines expect: compensation of independent steps in parallel,
// and continue-on-error with every failure aggregated; each compensation's calls timed and counted.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { SagaErrorType, resolveCompensationUpdate, sagaStateQuery } from 'idempotent-sagas/workflow';
import { WORKFLOW_BUNDLER_OPTIONS } from '../../apps/worker/order-worker';
import type { OptionsSagaInput, optionsSaga } from '../fixtures/saga-options/workflows';
import { TEMPORAL_ADDRESS_VAR, requireTestEnv } from '../helpers/test-env';
import { waitFor } from '../helpers/wait';

const UNDO_MS = 400;
type Call = { stepId: string; start: number; end: number; ok: boolean };
let calls: Call[] = [];
/** Compensations that fail: by step ID, until removed. */
const failing = new Set<string>();

let connection: Connection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `saga-options-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const address = requireTestEnv(TEMPORAL_ADDRESS_VAR);
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    taskQueue,
    workflowsPath: path.join(__dirname, '../fixtures/saga-options/workflows.ts'),
    bundlerOptions: { webpackConfigHook: WORKFLOW_BUNDLER_OPTIONS.webpackConfigHook },
    activities: {
      forward: async () => undefined,
      undo: async (stepId: string) => {
        const start = Date.now();
        await new Promise((r) => setTimeout(r, UNDO_MS));
        const ok = !failing.has(stepId);
        calls.push({ stepId, start, end: Date.now(), ok });
        if (!ok) throw ApplicationFailure.nonRetryable(`undo of ${stepId} failed`, 'UNDO_FAILED');
      },
    },
  });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
});
beforeEach(() => {
  calls = [];
  failing.clear();
});

const STEPS: OptionsSagaInput['steps'] = [{ id: 's0' }, { id: 'g1', group: 'holds' }, { id: 'g2', group: 'holds' }, { id: 'g3', group: 'holds' }, { id: 's4' }];
const start = (input: OptionsSagaInput) =>
  client.workflow.start<typeof optionsSaga>('optionsSaga', { taskQueue, workflowId: `options-${randomBytes(4).toString('hex')}`, args: [input] });
const of = (stepId: string) => calls.filter((c) => c.stepId === stepId);
/** Each step as `<id> <status>`, in the saga's order. */
const statusesOf = (steps: Array<{ stepId: string; status: string }>) => steps.map((s) => `${s.stepId} ${s.status}`);
const only = (stepId: string): Call => {
  const mine = of(stepId);
  expect(mine).toHaveLength(1);
  return mine[0]!;
};

test('parallel: the compensations of one group overlap; steps outside it run before and after, newest first', async () => {
  const state = await (await start({ steps: STEPS, compensation: 'parallel' })).result();
  expect(state.status).toBe('COMPENSATED');
  const [s0, g1, g2, g3, s4] = ['s0', 'g1', 'g2', 'g3', 's4'].map(only) as [Call, Call, Call, Call, Call];
  const group = [g1, g2, g3];
  // Every member started before any member ended: all three ran at once.
  expect(Math.max(...group.map((c) => c.start))).toBeLessThan(Math.min(...group.map((c) => c.end)));
  expect(s4.end).toBeLessThanOrEqual(Math.min(...group.map((c) => c.start)));
  expect(Math.max(...group.map((c) => c.end))).toBeLessThanOrEqual(s0.start);
});

test('sequential (the default): one compensation at a time, newest first, even within a group', async () => {
  const state = await (await start({ steps: STEPS })).result();
  expect(state.status).toBe('COMPENSATED');
  const order = ['s4', 'g3', 'g2', 'g1', 's0'].map(only);
  for (let i = 1; i < order.length; i++) expect(order[i]!.start).toBeGreaterThanOrEqual(order[i - 1]!.end);
});

test('continue-on-error: the other compensations still run, and the workflow fails with every failure listed (in step order)', async () => {
  failing.add('g2').add('s0');
  const handle = await start({ steps: STEPS, compensation: 'parallel', onCompensationError: 'continue' });
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe(SagaErrorType.CompensationFailed);
  expect(cause.message).toBe('2 compensation(s) failed: s0 (undo of s0 failed); g2 (undo of g2 failed)');
  expect(cause.details?.[0]).toEqual({
    failures: [
      { stepId: 's0', error: 'undo of s0 failed' },
      { stepId: 'g2', error: 'undo of g2 failed' },
    ],
  });
  // Each compensation ran exactly once (non-retryable failures), none was skipped for another's failure.
  for (const id of ['s4', 'g3', 'g2', 'g1', 's0']) expect(of(id)).toHaveLength(1);
  const state = await handle.query(sagaStateQuery);
  expect(state.status).toBe('COMPENSATION_FAILED');
  expect(statusesOf(state.steps)).toEqual(['s0 compensation-failed', 'g1 compensated', 'g2 compensation-failed', 'g3 compensated', 's4 compensated']);
});

test('park (the default) within a parallel group: the failed member is stuck alone; retry and skip finish the saga', async () => {
  failing.add('g2').add('s0');
  const handle = await start({ steps: STEPS, compensation: 'parallel' });
  const stuckOn = async (stepId: string) => {
    await waitFor(async () => {
      const s = await handle.query(sagaStateQuery);
      return s.status === 'COMPENSATION_STUCK' && s.stuck?.stepId === stepId;
    }, `stuck on ${stepId}`);
    return handle.query(sagaStateQuery);
  };
  const stuck = await stuckOn('g2');
  expect(stuck.steps.filter((s) => s.status === 'compensated').map((s) => s.stepId)).toEqual(['g1', 'g3', 's4']);
  expect(of('s0')).toHaveLength(0); // the barrier holds: nothing older runs while the group is unfinished
  failing.delete('g2');
  expect((await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] })).status).not.toBe('COMPENSATION_STUCK');
  await stuckOn('s0');
  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'skip', reason: 'refunded by hand' }] });
  const state = await handle.result();
  expect(state.status).toBe('COMPENSATED');
  expect(state.steps.find((s) => s.stepId === 's0')).toMatchObject({ status: 'skipped', skipReason: 'refunded by hand' });
  expect(of('g2').map((c) => c.ok)).toEqual([false, true]);
  expect(of('s0').map((c) => c.ok)).toEqual([false]);
  for (const id of ['g1', 'g3', 's4']) expect(of(id)).toHaveLength(1);
});

test('park within a parallel group across continue-as-new: the resumed run waits on the stuck member, then goes on one member at a time', async () => {
  failing.add('g2').add('g1');
  const handle = await start({ steps: STEPS, compensation: 'parallel', maxHistoryEvents: 1 });
  const stuckInNewRunOn = async (stepId: string, notRun: string) => {
    let runId = '';
    await waitFor(async () => {
      const s = await handle.query(sagaStateQuery);
      runId = (await handle.describe()).runId;
      return s.status === 'COMPENSATION_STUCK' && s.stuck?.stepId === stepId && runId !== notRun;
    }, `stuck on ${stepId} in a new run`);
    return runId;
  };
  // The concurrent round failed for g2 and g1; stuck on g2, the run continued-as-new (its history is past the bound).
  const run2 = await stuckInNewRunOn('g2', handle.firstExecutionRunId);
  await new Promise((r) => setTimeout(r, 1_000)); // the resumed run waits: no round runs again by itself
  expect(of('g2')).toHaveLength(1);
  expect(of('g1')).toHaveLength(1);
  const state = await handle.query(sagaStateQuery);
  expect(state.stuck).toMatchObject({ stepId: 'g2', rounds: 1 });
  expect(state.steps.find((s) => s.stepId === 'g1')).toMatchObject({ status: 'compensating', parallelGroup: 'holds' });

  failing.delete('g2');
  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  await stuckInNewRunOn('g1', run2); // g2 done; g1 runs a round of its own in that run, fails, and parks
  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'skip', reason: 'released by hand' }] });
  const final = await handle.result();
  expect(final.status).toBe('COMPENSATED');
  expect(statusesOf(final.steps)).toEqual(['s0 compensated', 'g1 skipped', 'g2 compensated', 'g3 compensated', 's4 compensated']);
  expect(of('g2').map((c) => c.ok)).toEqual([false, true]);
  expect(of('g1').map((c) => c.ok)).toEqual([false, false]);
  for (const id of ['s0', 'g3', 's4']) expect(of(id)).toHaveLength(1);
  // The group still ran concurrently in the first run.
  const group = ['g1', 'g2', 'g3'].map((id) => of(id)[0]!);
  expect(Math.max(...group.map((c) => c.start))).toBeLessThan(Math.min(...group.map((c) => c.end)));
});
