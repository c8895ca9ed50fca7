// One trace from the HTTP request through the workflow and its activities to the gateway call: spans
// collected in memory from the API, the Temporal client and worker interceptors and the gateway client.
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Connection } from '@temporalio/client';
import { createTenant } from '../../apps/orders/domain/tenants';
import { setupTracing, type Tracing } from '../../src/observability/tracing';
import { tracedClient } from '../../src/temporal/connection';
import { startApi, type RunningApi } from '../helpers/api';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { waitFor } from '../helpers/wait';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let stack: OrderStack;
let api: RunningApi;
let connection: Connection;

beforeAll(async () => {
  tracing = setupTracing('tracing-test', { exporter });
  stack = await createOrderStack({ stock: 100, tracing });
  await stack.startWorker();
  connection = await Connection.connect({ address: stack.temporalAddress });
  api = await startApi(stack, { temporal: { client: tracedClient(connection, 'default'), taskQueue: stack.taskQueue } });
});
afterAll(async () => {
  await api?.app.close();
  await connection?.close();
  await stack?.stop();
  await tracing?.shutdown();
});

test('POST /v1/orders → StartWorkflow → RunWorkflow → RunActivity (each step) → the gateway charge: one trace', async () => {
  const tenant = await createTenant(stack.db.pool, 'Traced Tenant');
  const res = await fetch(`${api.baseUrl}/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json', 'idempotency-key': 'traced-order-1' },
    body: JSON.stringify({ items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'tok_visa' }),
  });
  expect(res.status).toBe(202);
  const { workflowId } = (await res.json()) as { workflowId: string };
  expect(await stack.client.workflow.getHandle(workflowId).result()).toMatchObject({ status: 'COMPLETED' });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  const named = (name: string): ReadableSpan | undefined => spans().find((s) => s.name === name);
  await waitFor(async () => named('RunWorkflow:placeOrder') !== undefined, 'the workflow span to be exported');
  const request = named('POST /v1/orders');
  expect(request).toBeDefined();
  const traceId = request!.spanContext().traceId;
  const inTrace = spans().filter((s) => s.spanContext().traceId === traceId);
  const names = inTrace.map((s) => s.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'POST /v1/orders',
      'StartWorkflow:placeOrder',
      'RunWorkflow:placeOrder',
      'StartActivity:createOrder',
      'RunActivity:createOrder',
      'RunActivity:reserveStock',
      'RunActivity:chargePayment',
      'RunActivity:confirmOrder',
      'gateway POST /charges',
    ]),
  );
  // The gateway call is a child of the charge activity's span: the chain is unbroken to the provider.
  const charge = inTrace.find((s) => s.name === 'RunActivity:chargePayment')!;
  const gatewayCall = inTrace.find((s) => s.name === 'gateway POST /charges')!;
  expect(gatewayCall.parentSpanId).toBe(charge.spanContext().spanId);
  // And the workflow's start is a child of the HTTP request's span.
  expect(inTrace.find((s) => s.name === 'StartWorkflow:placeOrder')!.parentSpanId).toBe(request!.spanContext().spanId);
});
