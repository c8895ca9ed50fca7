// Committed histories replay against today's workflow code with their real workflow IDs; a
// non-deterministic change to the workflow makes the replay fail. Re-record with
// test/fixtures/record-histories.ts only for a deliberate, patched() change.
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { SCENARIO_MARKS, loadFixtures, missingMarks, summarizeHistory } from '../fixtures/history-fixtures';
import { sharedBundle } from '../helpers/order-stack'; // also installs a quiet SDK runtime

const fixtures = loadFixtures();
/** The workflow ID prefix of each workflow type's fixtures: `order-fixture-<name>`, `transfer-fixture-<name>`. */
const PREFIX: Record<string, string> = { placeOrder: 'order', transferFunds: 'transfer' };

test('the fixtures cover the saga scenarios', () => {
  expect(fixtures.map((f) => f.name)).toEqual(
    expect.arrayContaining(['happy', 'declined', 'out-of-stock', 'transient-5xx', 'lost-reply-refund', 'cancelled', 'stuck-then-retry']),
  );
  // Recorded with the saga-lifetime-v1 marker: closeSaga, stuck backoff, continue-as-new and the run it resumed in.
  expect(fixtures.map((f) => f.name)).toEqual(expect.arrayContaining(['happy-closed', 'stuck-continued-as-new', 'resumed-then-retry']));
  // The pending-charge wait (webhook signal; timeout), reconciliation after an ambiguous answer, the transfer saga.
  expect(fixtures.map((f) => f.name)).toEqual(
    expect.arrayContaining(['pending-signalled', 'pending-timed-out', 'ambiguous-reconciled', 'transfer-completed', 'transfer-compensated']),
  );
  for (const f of fixtures) {
    const type = summarizeHistory(f.history).workflowType ?? '(none)';
    expect([f.name, type]).toEqual([f.name, expect.stringMatching(/^(placeOrder|transferFunds)$/)]);
    expect(f.workflowId).toBe(`${PREFIX[type]}-fixture-${f.name}`);
  }
  expect(new Set(fixtures.map((f) => summarizeHistory(f.history).workflowType))).toEqual(new Set(['placeOrder', 'transferFunds']));
});

test.each(Object.entries(SCENARIO_MARKS))('the %s fixture shows the path it was recorded for', (name, marks) => {
  const f = fixtures.find((x) => x.name === name);
  expect(f).toBeDefined();
  expect(missingMarks(marks, summarizeHistory(f!.history))).toEqual([]);
});

// One bundle, the worker's (workflows/index.ts: placeOrder and transferFunds); each history names its workflow type.
test('every committed history replays against the current workflow code', async () => {
  const results = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await sharedBundle() },
    fixtures.map((f) => ({ workflowId: f.workflowId, history: f.history })),
  )) {
    results.push({ workflowId: result.workflowId, error: result.error?.message });
  }
  expect(results).toEqual(fixtures.map((f) => ({ workflowId: f.workflowId, error: undefined })));
});

test.each(['happy', 'transfer-completed'])(
  'a non-deterministic change to the workflow makes the replay of %s fail',
  async (name) => {
    const fixture = fixtures.find((f) => f.name === name);
    if (!fixture) throw new Error(`the ${name} fixture is missing`);
    const replay = Worker.runReplayHistory({ workflowsPath: path.join(__dirname, '../fixtures/nondeterministic') }, fixture.history, fixture.workflowId);
    await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
  },
  60_000,
);
