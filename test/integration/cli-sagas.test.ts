// The operator CLI against real stuck sagas: `sagas list --status COMPENSATION_STUCK --json` names
// them, `sagas show` renders the steps, `sagas retry` and `sagas skip --reason` resolve one each;
// an unknown ID, a saga not stuck and bad input each get one clear line and change nothing.
import { sagaStateQuery, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { useOrderStack } from '../helpers/order-stack';
import { runScript, type ProcessResult } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

const stack = useOrderStack({ stock: 100, leaseMs: 2000 });

const cli = (...args: string[]): Promise<ProcessResult> =>
  runScript('src/cli/cli.ts', ['sagas', ...args], { TEMPORAL_ADDRESS: stack.temporalAddress, TEMPORAL_NAMESPACE: 'default' });
const refunds = (orderId: string): Promise<number> => stack.refunds(orderId);
const failingOrder = (orderId: string) => ({
  orderId,
  items: [{ sku: 'SKU-1', quantity: 1 }],
  options: { failBeforePivot: 'a later step failed', stuckAfterAttempts: 2 },
});

test('two stuck sagas: listed as JSON, shown, one retried and one skipped with a reason, from the CLI', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 }); // every refund fails: both sagas get stuck on the charge
  const retried = await stack.startOrder(failingOrder(`cli-retry-${stack.taskQueue}`));
  const skipped = await stack.startOrder(failingOrder(`cli-skip-${stack.taskQueue}`));
  for (const h of [retried, skipped]) await waitFor(async () => (await h.query(sagaStateQuery)).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK');

  // Visibility is eventually consistent: list until both appear.
  let listed: Array<{ workflowId: string; sagaStatus: string; executionStatus: string }> = [];
  await waitFor(async () => {
    const run = await cli('list', '--status', 'COMPENSATION_STUCK', '--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    listed = JSON.parse(run.stdout) as typeof listed;
    return [retried, skipped].every((h) => listed.some((r) => r.workflowId === h.workflowId));
  }, 'both stuck sagas listed');
  for (const h of [retried, skipped]) {
    expect(listed.find((r) => r.workflowId === h.workflowId)).toMatchObject({ sagaStatus: 'COMPENSATION_STUCK', executionStatus: 'RUNNING' });
  }

  const shown = await cli('show', retried.workflowId);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain(`saga ${retried.workflowId}: COMPENSATION_STUCK`);
  expect(shown.stdout).toMatch(/stuck on charge after \d+ round\(s\)/);
  expect(shown.stdout).toMatch(/^charge\s+compensating\s+yes\s+\d+\s+\S/m);

  stack.faults.replace({ seed: 1 }); // the operator fixed the gateway
  const retry = await cli('retry', retried.workflowId, '--json');
  expect({ code: retry.code, stderr: retry.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(retry.stdout)).toMatchObject({ workflowId: retried.workflowId, status: 'COMPENSATING' });
  expect(((await retried.result()) as PlaceOrderResult).status).toBe('COMPENSATED');
  expect(await refunds(retried.workflowId.replace(/^order-/, ''))).toBe(1);

  const skip = await cli('skip', skipped.workflowId, '--reason', 'refunded by hand, ticket OPS-7');
  expect({ code: skip.code, stderr: skip.stderr }).toEqual({ code: 0, stderr: '' });
  expect(skip.stdout).toContain(`saga ${skipped.workflowId}: COMPENSATING`);
  expect(((await skipped.result()) as PlaceOrderResult).status).toBe('COMPENSATED');
  expect((await skipped.query(sagaStateQuery)).steps.find((s) => s.stepId === 'charge')).toMatchObject({
    status: 'skipped',
    skipReason: 'refunded by hand, ticket OPS-7',
  });
  expect(await refunds(skipped.workflowId.replace(/^order-/, ''))).toBe(0);

  // Neither is stuck any more: the list no longer names them.
  await waitFor(async () => {
    const rows = JSON.parse((await cli('list', '--status', 'COMPENSATION_STUCK', '--json')).stdout) as typeof listed;
    return !rows.some((r) => r.workflowId === retried.workflowId || r.workflowId === skipped.workflowId);
  }, 'the resolved sagas to leave the stuck list');
}, 120_000);

test('clear errors: an unknown ID, a saga that is not stuck, bad input; one line each, no stack', async () => {
  const done = await stack.placeOrder({ items: [{ sku: 'SKU-1', quantity: 1 }] });
  expect(done.result.status).toBe('COMPLETED');
  const historyLength = async (): Promise<number> => (await done.handle.fetchHistory()).events?.length ?? 0;
  const before = await historyLength();

  const cases: Array<[string[], number, RegExp]> = [
    [['show', 'no-such-saga'], 1, /^error: no saga with ID "no-such-saga" in namespace default\n$/],
    [['retry', done.handle.workflowId], 1, /^error: saga order-\S+ is COMPLETED, not COMPENSATION_STUCK: there is nothing to retry\n$/],
    [['skip', done.handle.workflowId, '--reason', 'x'], 1, /^error: saga order-\S+ is COMPLETED, not COMPENSATION_STUCK: there is nothing to skip\n$/],
    [['skip', done.handle.workflowId, '--reason', '  '], 2, /^error: --reason: must not be empty\n$/],
    [['list', '--status', 'STUCK'], 2, /^error: --status: Invalid option: expected one of .*COMPENSATION_STUCK/],
  ];
  for (const [args, code, stderr] of cases) {
    const run = await cli(...args);
    expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code, stdout: '' });
    expect(run.stderr).toMatch(stderr);
  }
  expect(await historyLength()).toBe(before); // nothing was sent to the saga
});
