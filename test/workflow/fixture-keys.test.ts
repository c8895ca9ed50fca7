// Every activity a committed history scheduled was given keys of its own workflow: `${workflowId}/${stepId}`
// or `${workflowId}/${stepId}/compensate`, never another workflow's, never a run ID. The inputs are decoded
// from the recorded payloads, so this checks what the workflow code really sent, in every scenario.
// The checker is tested both ways: altered copies of the fixtures must be reported.
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { STEP_ID_PATTERN } from 'idempotent-sagas/store';
import { STEP_ID, checkActivityKeys, checkHistoryKeys, scheduledActivities, type ScheduledActivity } from '../fixtures/activity-keys';
import { loadFixtures } from '../fixtures/history-fixtures';

const fixtures = loadFixtures();
type Fixture = (typeof fixtures)[number];

function fixture(name: string): Fixture {
  const found = fixtures.find((f) => f.name === name);
  if (!found) throw new Error(`fixture ${name} is missing`);
  return found;
}

/** A deep copy of a history, through its wire encoding (what a fixture file holds). */
const cloneHistory = (history: temporal.api.history.v1.IHistory): temporal.api.history.v1.History =>
  temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(history).finish());

/** A copy of `history` whose first scheduled `activityType` got the input `change` returns, re-encoded as json/plain. */
function withInput(
  history: temporal.api.history.v1.IHistory,
  activityType: string,
  change: (input: Record<string, unknown>) => unknown,
): temporal.api.history.v1.History {
  const copy = cloneHistory(history);
  const scheduled = copy.events.map((e) => e.activityTaskScheduledEventAttributes).find((a) => a?.activityType?.name === activityType);
  const payload = scheduled?.input?.payloads?.[0];
  if (!scheduled?.input || !payload) throw new Error(`no ${activityType} with an input in the history`);
  const input = defaultPayloadConverter.fromPayload<Record<string, unknown>>(payload);
  scheduled.input.payloads = [defaultPayloadConverter.toPayload(change({ ...input }))];
  return copy;
}

test('the checker and the code share one step ID rule', () => {
  expect(STEP_ID.source).toBe(STEP_ID_PATTERN.source);
});

test('there are fixtures to check', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(15);
});

describe.each(fixtures.map((f) => [f.name, f] as const))('fixture %s', (_name, f) => {
  test('every scheduled activity got keys of its own workflow and step, decoded from its payloads', () => {
    const report = checkHistoryKeys(f.history, f.workflowId);
    expect(report.problems).toEqual([]);
    expect(report.workflowId).toBe(f.workflowId);
    expect(report.runIds.length).toBeGreaterThan(0);
    // Not vacuous: the history scheduled activities, and keys were read from them.
    expect(report.activities.length).toBeGreaterThan(0);
    expect(report.checked).toBeGreaterThan(0);
    expect(report.checked).toBeGreaterThanOrEqual(report.activities.length);
  });

  test('rewriting any one key to another workflow’s, or adding the run ID, is reported', () => {
    const { runIds } = checkHistoryKeys(f.history, f.workflowId);
    const runId = runIds[0]!;
    const activities = scheduledActivities(f.history);
    const rewrites: Array<[string, (key: string) => string]> = [
      ['not a key of workflow', (key) => key.replace(`${f.workflowId}/`, 'order-fixture-someone-else/')],
      ['contains the run ID', (key) => key.replace(`${f.workflowId}/`, `${f.workflowId}/${runId}/`)],
      ['not a key of workflow', (key) => key.replace(`${f.workflowId}/`, `${runId}/`)],
    ];
    for (const [i, activity] of activities.entries()) {
      const input = activity.args[0] as Record<string, unknown>;
      const field = ['key', 'forwardKey', 'compensationKey'].find((k) => typeof input[k] === 'string');
      for (const [expected, rewrite] of rewrites) {
        const altered: ScheduledActivity[] = activities.map((a, j) => {
          if (j !== i) return a;
          if (!field) return { ...a, args: [{ ...input, sagaId: rewrite(`${f.workflowId}/`).slice(0, -1) }] }; // closeSaga
          return { ...a, args: [{ ...input, [field]: rewrite(input[field] as string) }] };
        });
        const { problems } = checkActivityKeys(f.workflowId, runIds, altered);
        expect(problems.length).toBeGreaterThanOrEqual(1);
        expect(problems[0]).toContain(`${activity.activityType}#${activity.eventId}`);
        if (field) expect(problems[0]).toContain(expected);
      }
    }
  });
});

describe('the checker reports an altered fixture (a decoded copy, re-encoded)', () => {
  const happy = fixture('happy-closed');
  const wf = happy.workflowId;
  const runId = checkHistoryKeys(happy.history, wf).runIds[0]!;

  test('the unaltered copy passes', () => {
    expect(checkHistoryKeys(cloneHistory(happy.history), wf)).toMatchObject({ problems: [], checked: 6 });
  });

  test.each<[string, string, (input: Record<string, unknown>) => unknown, RegExp]>([
    [
      'a key of another workflow',
      'chargePayment',
      (i) => ({ ...i, key: 'order-fixture-declined/charge' }),
      /^chargePayment#\d+: key="order-fixture-declined\/charge": not a key of workflow/,
    ],
    ['a key with the run ID after the workflow ID', 'chargePayment', (i) => ({ ...i, key: `${wf}/${runId}/charge` }), /contains the run ID/],
    [
      'a key of the run ID instead of the workflow ID',
      'confirmOrder',
      (i) => ({ ...i, key: `${runId}/confirm` }),
      /^confirmOrder#\d+: key=.*not a key of workflow/,
    ],
    ['a key with the run ID as its step', 'createOrder', (i) => ({ ...i, key: `${wf}/${runId}` }), /contains the run ID/],
    ['a key with another run’s ID as its step', 'createOrder', (i) => ({ ...i, key: `${wf}/0198c1a2-1111-7222-8333-944455556666` }), /looks like a run ID/],
    ['a key with a longer workflow ID', 'reserveStock', (i) => ({ ...i, key: `${wf}-2/reserve:SKU-1` }), /not a key of workflow/],
    ['an invalid step ID', 'reserveStock', (i) => ({ ...i, key: `${wf}/reserve SKU-1` }), /step ID "reserve SKU-1" is not valid/],
    ['an empty step ID', 'reserveStock', (i) => ({ ...i, key: `${wf}/` }), /step ID "" is not valid/],
    ['a doubled /compensate suffix', 'confirmOrder', (i) => ({ ...i, key: `${wf}/confirm/compensate/compensate` }), /is not valid/],
    ['no key at all', 'chargePayment', ({ key: _key, ...rest }) => rest, /^chargePayment#\d+: no key$/],
    ['a key that is not a string', 'chargePayment', (i) => ({ ...i, key: 42 }), /not a string/],
    [
      'a saga ID of another workflow',
      'closeSaga',
      (i) => ({ ...i, sagaId: 'order-fixture-happy' }),
      /^closeSaga#\d+: sagaId="order-fixture-happy": not the workflow ID/,
    ],
    ['a nested key of another workflow', 'createOrder', (i) => ({ ...i, items: [{ sku: 'SKU-1', quantity: 2, key: 'x/y' }] }), /items\[0\]\.key="x\/y"/],
    ['two arguments', 'createOrder', (i) => [i, i], /expected one object argument/],
  ])('%s', (_what, activityType, change, expected) => {
    const report = checkHistoryKeys(withInput(happy.history, activityType, change), wf);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(expected);
  });

  test('refund keys: a forward key ending in /compensate, a compensation key without it or of another step', () => {
    const declined = fixture('declined');
    const check = (change: (input: Record<string, unknown>) => unknown): string[] =>
      checkHistoryKeys(withInput(declined.history, 'refundPayment', change), declined.workflowId).problems;
    expect(check((i) => i)).toEqual([]);
    expect(check((i) => ({ ...i, forwardKey: `${declined.workflowId}/charge/compensate` })).join('\n')).toMatch(
      /forwardKey=.*a compensation key where a forward key belongs/,
    );
    expect(check((i) => ({ ...i, compensationKey: `${declined.workflowId}/charge` })).join('\n')).toMatch(/compensationKey=.*not a compensation key/);
    expect(check((i) => ({ ...i, compensationKey: `${declined.workflowId}/create-order/compensate` })).join('\n')).toMatch(/is not forwardKey \+ \/compensate/);
  });

  test('the history’s own workflow ID must be the fixture’s', () => {
    expect(checkHistoryKeys(happy.history, 'order-fixture-happy').problems[0]).toMatch(/WorkflowExecutionStarted names workflow "order-fixture-happy-closed"/);
  });

  test('an input that is not json/plain is reported, not skipped', () => {
    const copy = cloneHistory(happy.history);
    const scheduled = copy.events.map((e) => e.activityTaskScheduledEventAttributes).find((a) => a?.activityType?.name === 'chargePayment');
    scheduled!.input!.payloads = [{ metadata: { encoding: Buffer.from('binary/plain') }, data: Buffer.from('order-fixture-happy-closed/charge') }];
    const report = checkHistoryKeys(copy, wf);
    expect(report.problems).toEqual([expect.stringMatching(/^chargePayment#\d+: input not decoded: argument 0: payload encoding "binary\/plain"/)]);
  });

  test('a history without ActivityTaskScheduled events fails: nothing checked is not a pass', () => {
    const copy = cloneHistory(happy.history);
    copy.events = copy.events.filter((e) => !e.activityTaskScheduledEventAttributes);
    const report = checkHistoryKeys(copy, wf);
    expect(report.checked).toBe(0);
    expect(report.problems).toEqual(['no ActivityTaskScheduled events: nothing was checked']);
  });

  test('an activity without any key-like field is reported', () => {
    const activities: ScheduledActivity[] = [{ eventId: 5, activityType: 'somethingNew', args: [{ orderId: 'fixture-happy-closed' }] }];
    expect(checkActivityKeys(wf, [runId], activities).problems).toEqual([
      'somethingNew#5: no key-like field to check (add the activity to REQUIRED_KEY_FIELDS)',
    ]);
  });
});
