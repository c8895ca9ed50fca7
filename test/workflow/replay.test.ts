// Committed histories replay against today's workflow code with their real workflow IDs; a
// non-deterministic change to the workflow makes the replay fail. Re-record with
// test/fixtures/record-histories.ts only for a deliberate, patched() change.
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { loadFixtures } from '../fixtures/history-fixtures';
import { sharedBundle } from '../helpers/order-stack'; // also installs a quiet SDK runtime

const fixtures = loadFixtures();

test('the fixtures cover the saga scenarios', () => {
  expect(fixtures.map((f) => f.name)).toEqual(expect.arrayContaining(['happy', 'declined', 'out-of-stock', 'transient-5xx', 'lost-reply-refund', 'cancelled', 'stuck-then-retry']));
  // Recorded with the saga-lifetime-v1 marker: closeSaga, stuck backoff, continue-as-new and the run it resumed in.
  expect(fixtures.map((f) => f.name)).toEqual(expect.arrayContaining(['happy-closed', 'stuck-continued-as-new', 'resumed-then-retry']));
  for (const f of fixtures) expect(f.workflowId).toBe(`order-fixture-${f.name}`);
});

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

test('a non-deterministic change to the workflow makes the replay fail', async () => {
  const happy = fixtures.find((f) => f.name === 'happy');
  if (!happy) throw new Error('the happy-path fixture is missing');
  const replay = Worker.runReplayHistory(
    { workflowsPath: path.join(__dirname, '../fixtures/nondeterministic')},
    happy.history,
    happy.workflowId,
  );
  await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
}, 60_000);
