// A whole order stack for one test file: its own database, an in-process gateway with live
// faults, a client on the shared dev server, and workers on a task queue of its own.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { ActivityDeps } from '../../apps/worker/activities';
import { seedProducts } from '../../apps/orders/domain/catalog';
import { buildGatewayApp } from '../../apps/gateway/app';
import { createGatewayClient } from '../../apps/gateway/client';
import { FaultInjector, type FaultConfigInput } from '../../apps/gateway/faults';
import type { WebhookTarget } from '../../apps/gateway/webhooks';
import { IdempotencyStore } from 'idempotent-sagas/store';
import type { Tracing } from '../../src/observability/tracing';
import { bundleWorkflows, createOrderWorker } from '../../apps/worker/order-worker';
import type { PlaceOrderResult } from '../../apps/orders/workflows/messages';
import type { PlaceOrderInput } from '../../apps/orders/workflows/place-order';
import { createTestDatabase, type TestDatabase } from './database';
import { requireTestEnv, TEMPORAL_ADDRESS_VAR } from './test-env';

// Expected activity failures (declines, injected faults) would flood the output at the default level.
Runtime.install({ logger: new DefaultLogger('ERROR') });

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** One workflow bundle per test file (bundling takes seconds). */
export function sharedBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflows();
  return bundle;
}

export type OrderStack = {
  db: TestDatabase;
  client: Client;
  taskQueue: string;
  temporalAddress: string;
  gatewayUrl: string;
  faults: FaultInjector;
  store: IdempotencyStore;
  /** The dependencies the stack's workers bind their activities to. */
  deps: ActivityDeps;
  /** Starts a worker in this process; stopped by stop() unless stopped before. */
  startWorker(): Promise<Worker>;
  startOrder(input: Partial<PlaceOrderInput> & Pick<PlaceOrderInput, 'items'>, workflowId?: string): Promise<WorkflowHandle>;
  placeOrder(input: Partial<PlaceOrderInput> & Pick<PlaceOrderInput, 'items'>): Promise<{ result: PlaceOrderResult; handle: WorkflowHandle }>;
  count(sql: string, params?: unknown[]): Promise<number>;
  /** Refunds the gateway made for the order's charges. */
  refunds(orderId: string): Promise<number>;
  /** The order row's status (undefined: no row). */
  orderStatus(orderId: string): Promise<string | undefined>;
  stop(): Promise<void>;
};

export type OrderStackOptions = {
  stock?: number;
  leaseMs?: number;
  gatewayTimeoutMs?: number;
  faults?: FaultConfigInput;
  /** Retention of idempotency records in seconds (IDEMPOTENCY_TTL_SECONDS); default one day. */
  ttlSeconds?: number;
  /** The charge's step kind (CHARGE_STEP_KIND); default external. */
  chargeStepKind?: ActivityDeps['chargeStepKind'];
  /** The gateway's webhook target; its `url` is read at each delivery, so it may be set once the API listens. */
  webhook?: WebhookTarget;
  /** Where the workers' spans go (tracing off by default). */
  tracing?: Tracing;
};

export async function createOrderStack(opts: OrderStackOptions = {}): Promise<OrderStack> {
  const db = await createTestDatabase();
  await seedProducts(db.pool, opts.stock ?? 1000);
  const faults = new FaultInjector({ seed: 1, ...opts.faults });
  const gatewayApp = buildGatewayApp({ pool: db.pool, faults, webhook: opts.webhook });
  await gatewayApp.listen({ host: '127.0.0.1', port: 0 });
  const gatewayUrl = `http://127.0.0.1:${(gatewayApp.server.address() as AddressInfo).port}`;

  const temporalAddress = requireTestEnv(TEMPORAL_ADDRESS_VAR);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  const workerConnection = await NativeConnection.connect({ address: temporalAddress });
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const store = new IdempotencyStore(db.pool, { defaultTtlSeconds: opts.ttlSeconds ?? 86_400 });
  const gateway = createGatewayClient({ baseUrl: gatewayUrl, timeoutMs: opts.gatewayTimeoutMs ?? 2000 });
  const deps: ActivityDeps = {
    pool: db.pool,
    store,
    gateway,
    leaseMs: opts.leaseMs ?? 3000,
    ...(opts.chargeStepKind && { chargeStepKind: opts.chargeStepKind }),
  };
  const running: Array<{ worker: Worker; done: Promise<void> }> = [];

  const startWorker = async (): Promise<Worker> => {
    const worker = await createOrderWorker({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await sharedBundle(),
      deps,
      ...(opts.tracing && { tracing: opts.tracing }),
    });
    running.push({ worker, done: worker.run() });
    return worker;
  };

  let sequence = 0;
  const startOrder: OrderStack['startOrder'] = async (input, workflowId) => {
    sequence += 1;
    const orderId = input.orderId ?? `ord-${taskQueue}-${sequence}`;
    return client.workflow.start('placeOrder', {
      taskQueue,
      workflowId: workflowId ?? `order-${orderId}`,
      args: [{ tenantId: 'tenant-a', currency: 'EUR', paymentToken: 'tok_visa', ...input, orderId }],
    });
  };

  return {
    db,
    client,
    taskQueue,
    temporalAddress,
    gatewayUrl,
    faults,
    store,
    deps,
    startWorker,
    startOrder,
    placeOrder: async (input) => {
      const handle = await startOrder(input);
      return { result: (await handle.result()) as PlaceOrderResult, handle };
    },
    count: (sql, params) => db.count(sql, params),
    refunds: (orderId) => db.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id = $1', [orderId]),
    orderStatus: async (orderId) => (await db.pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status,
    stop: async () => {
      for (const r of running) if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
      await Promise.all(running.map((r) => r.done));
      await workerConnection.close();
      await connection.close();
      await gatewayApp.close();
      await db.drop();
    },
  };
}

/**
 * The test file's order stack with one worker: created before its tests, stopped after them, its gateway
 * faults reset to none before each test. The returned object stands for the stack once it exists.
 */
export function useOrderStack(opts: OrderStackOptions & { beforeWorker?: (stack: OrderStack) => Promise<unknown> } = {}): OrderStack {
  let stack: OrderStack | undefined;
  beforeAll(async () => {
    stack = await createOrderStack(opts);
    await opts.beforeWorker?.(stack);
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  beforeEach(() => stack?.faults.replace({ seed: 1, ...opts.faults }));
  return new Proxy({} as OrderStack, {
    get: (_target, property: keyof OrderStack) => {
      if (!stack) throw new Error('the order stack is used before beforeAll created it');
      return stack[property];
    },
  });
}
