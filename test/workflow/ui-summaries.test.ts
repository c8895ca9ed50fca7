// What the Temporal UI shows: an order saga started by the API carries a summary (order, tenant,
// total) and its items as details; every activity is summarised by its saga step; while stuck, the
// workflow's current details name the step and the error, and they clear once it is resolved.
import { defaultPayloadConverter } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { resolveCompensationUpdate, stepSummary } from 'idempotent-sagas/workflow';
import { createTenant } from '../../apps/orders/domain/tenants';
import { sagaStateQuery } from '../../apps/orders/workflows/messages';
import { startApi } from '../helpers/api';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { waitFor } from '../helpers/wait';

let stack: OrderStack;
let app: FastifyInstance;
let baseUrl: string;

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100, leaseMs: 2000 });
  await stack.startWorker();
  ({ app, baseUrl } = await startApi(stack));
});
afterAll(async () => {
  await app?.close();
  await stack?.stop();
});

/** The summaries of the activities a workflow scheduled, in order. */
async function activitySummaries(workflowId: string): Promise<string[]> {
  const { events } = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  return (
    (events ?? [])
      // Regular activities are scheduled; local ones (the order's local steps) are recorded as markers.
      .filter((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : '(none)'))
  );
}
const currentDetails = async (workflowId: string): Promise<string> =>
  (await stack.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';

test('stepSummary reads the step from the keys in an activity input', () => {
  expect(stepSummary('order-1', { key: 'order-1/reserve:SKU-1' })).toBe('reserve:SKU-1');
  expect(stepSummary('order-1', { forwardKey: 'order-1/charge', compensationKey: 'order-1/charge/compensate' })).toBe('compensate charge');
  expect(stepSummary('order-1', { forwardKey: 'order-1/reserve:SKU-1', sku: 'SKU-1' })).toBe('compensate reserve:SKU-1');
  expect(stepSummary('order-1', { key: 'order-1/charge/compensate' })).toBe('compensate charge');
  expect(stepSummary('order-1', { key: 'order-2/charge' })).toBeUndefined(); // another workflow's key names nothing here
  expect(stepSummary('order-1', { sagaId: 'order-1' })).toBeUndefined();
});

test('an order placed through the API: the workflow summary names order, tenant and total; each activity its step', async () => {
  const tenant = await createTenant(stack.db.pool, 'Summary Tenant');
  const res = await fetch(`${baseUrl}/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json', 'idempotency-key': `ui-${stack.taskQueue}` },
    body: JSON.stringify({
      items: [
        { sku: 'SKU-1', quantity: 2 },
        { sku: 'SKU-4', quantity: 1 },
      ],
      paymentToken: 'tok_visa',
    }),
  });
  expect(res.status).toBe(202);
  const { orderId } = (await res.json()) as { orderId: string };
  const handle = stack.client.workflow.getHandle(`order-${orderId}`);
  await handle.result();
  const described = await handle.describe();
  expect(await described.staticSummary()).toBe(`order ${orderId} · tenant Summary Tenant (${tenant.tenantId}) · 56.30 EUR`);
  expect(await described.staticDetails()).toBe('SKU-1 × 2, SKU-4 × 1');
  const summaries = await activitySummaries(handle.workflowId);
  expect(summaries).toEqual(expect.arrayContaining(['create-order', 'reserve:SKU-1', 'reserve:SKU-4', 'charge']));
  expect(summaries.filter((s) => s === '(none)').length).toBeLessThanOrEqual(1); // closeSaga names a saga, not a step
});

test('while stuck, the current details name the step and its error; compensations are summarised; resolved, the details clear', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 });
  const handle = await stack.startOrder({
    orderId: `ui-stuck-${stack.taskQueue}`,
    items: [{ sku: 'SKU-1', quantity: 1 }],
    options: { failBeforePivot: 'a later step failed', stuckAfterAttempts: 2 },
  });
  await waitFor(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK');
  expect(await currentDetails(handle.workflowId)).toMatch(/^COMPENSATION_STUCK on step charge after 1 failed round\(s\): .+/);
  expect(await activitySummaries(handle.workflowId)).toContain('compensate charge');

  stack.faults.replace({ seed: 1 });
  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  await handle.result();
  expect(await currentDetails(handle.workflowId)).toBe('');
  expect(await activitySummaries(handle.workflowId)).toEqual(expect.arrayContaining(['compensate charge', 'compensate reserve:SKU-1']));
});
