// A whole order stack for one test file, from the stack builder: its own database, an in-process gateway
// with live faults, a client on the shared dev server, and workers on a task queue of its own.
import { randomBytes } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { IdempotencyStore } from 'idempotent-sagas/store';
import type { ActivityDeps } from '../../apps/worker/activities';
import { seedProducts } from '../../apps/orders/domain/catalog';
import { createGatewayClient } from '../../apps/gateway/client';
import { FaultInjector, type FaultConfigInput } from '../../apps/gateway/faults';
import type { WebhookTarget } from '../../apps/gateway/webhooks';
import type { Tracing } from '../../src/observability/tracing';
import { bundleWorkflows } from '../../apps/worker/order-worker';
import { ORDER_SAGA_SHAPE, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import type { PlaceOrderInput } from '../../apps/orders/workflows/place-order';
import { STARTS_RUNNING } from '../../apps/worker/search-attributes';
import { loadConfig } from '../../src/config';
import { runName, Stack, type StackDatabase } from '../../src/stack/stack';
import { ADMIN_URL_VAR, requireTestEnv, TEMPLATE_DB_VAR, TEMPORAL_ADDRESS_VAR } from './test-env';

// Expected activity failures (declines, injected faults) would flood the output at the default level.
Runtime.install({ logger: new DefaultLogger('ERROR') });

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** One workflow bundle per test file (bundling takes seconds). */
export function sharedBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflows();
  return bundle;
}

export type OrderStack = {
  db: StackDatabase;
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
  /** `cluster`: a Temporal cluster of the file's own (service processes on Postgres) instead of the shared dev server. */
  temporal?: 'dev server' | 'cluster';
};

export async function createOrderStack(opts: OrderStackOptions = {}): Promise<OrderStack> {
  const cluster = opts.temporal === 'cluster';
  // The test environment's Postgres and dev server; a database of the file's own, copied from the migrated template.
  const config = loadConfig({
    DATABASE_URL: requireTestEnv(ADMIN_URL_VAR),
    ...(cluster ? { TEMPORAL_MODE: 'cluster' } : { TEMPORAL_ADDRESS: requireTestEnv(TEMPORAL_ADDRESS_VAR) }),
    LOG_LEVEL: 'error',
  });
  const builder = new Stack(config, pino({ level: 'silent' }));
  return builder.build(async (stack) => {
    const db = await stack.database({ own: { name: runName('idem_test'), template: requireTestEnv(TEMPLATE_DB_VAR) }, poolMax: 20 });
    await seedProducts(db.pool, opts.stock ?? 1000);
    const faults = new FaultInjector({ seed: 1, ...opts.faults });
    const gateway = await stack.gateway(db, { faults, webhook: opts.webhook });
    const temporal = await stack.temporal({ cluster: { databasePrefix: runName('idem_test_temporal'), drop: () => true } });
    const temporalAddress = temporal.address;
    const taskQueue = `test-${randomBytes(4).toString('hex')}`;
    const store = new IdempotencyStore(db.pool, { defaultTtlSeconds: opts.ttlSeconds ?? 86_400 });
    const deps: ActivityDeps = {
      pool: db.pool,
      store,
      gateway: createGatewayClient({ baseUrl: gateway.url, timeoutMs: opts.gatewayTimeoutMs ?? 2000 }),
      leaseMs: opts.leaseMs ?? 3000,
      ...(opts.chargeStepKind && { chargeStepKind: opts.chargeStepKind }),
    };

    let sequence = 0;
    const startOrder: OrderStack['startOrder'] = async (input, workflowId) => {
      sequence += 1;
      const orderId = input.orderId ?? `ord-${taskQueue}-${sequence}`;
      return temporal.client.workflow.start('placeOrder', {
        taskQueue,
        workflowId: workflowId ?? `order-${orderId}`,
        ...STARTS_RUNNING,
        args: [{ tenantId: 'tenant-a', currency: 'EUR', paymentToken: 'tok_visa', shape: ORDER_SAGA_SHAPE, ...input, orderId }],
      });
    };

    return {
      db,
      client: temporal.client,
      taskQueue,
      temporalAddress,
      gatewayUrl: gateway.url,
      faults,
      store,
      deps,
      startWorker: async () =>
        stack.worker(temporal, { taskQueue, workflowBundle: await sharedBundle(), deps, ...(opts.tracing && { tracing: opts.tracing }) }),
      startOrder,
      placeOrder: async (input) => {
        const handle = await startOrder(input);
        return { result: (await handle.result()) as PlaceOrderResult, handle };
      },
      count: (sql, params) => db.count(sql, params),
      refunds: (orderId) =>
        db.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id = $1', [orderId]),
      orderStatus: async (orderId) => (await db.pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status,
      stop: () => stack.close(),
    };
  });
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
