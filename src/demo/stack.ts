// What one demo run (and `npm start`) needs, in this process, from the stack builder: Postgres
// (embedded unless DATABASE_URL), Temporal (a dev server with its UI unless TEMPORAL_ADDRESS), the
// payment gateway on a free port with seeded faults, an order worker on a task queue of the run's own, and the
// events: NATS (NATS_URL, the local server, or one of the stack's own), the outbox relay and the shipping consumer.
import type { Worker } from '@temporalio/worker';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { seedProducts, setStock } from '../../apps/orders/domain/catalog';
import { eventTopology } from '../../apps/events/broker';
import type { OutboxRelay } from '../../apps/events/relay';
import type { ShippingConsumer } from '../../apps/shipping/consumer';
import { createGatewayClient } from '../../apps/gateway/client';
import type { RunningGateway } from '../../apps/gateway/server';
import type { WebhookTarget } from '../../apps/gateway/webhooks';
import { bundleWorkflows } from '../../apps/worker/order-worker';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { Stack, type StackDatabase, type StackNats, type StackTemporal } from '../stack/stack';
import { CountingFaultInjector } from './counting-faults';
import { AMPLE_STOCK, type DemoPlan, GATEWAY_CLIENT_TIMEOUT_MS } from './plan';

/** Leases on the charge: short, so a compensation waiting one out (after a lost worker) does not wait long. */
export const DEMO_LEASE_MS = 3000;

export type DemoStack = {
  /** The builder, to add parts (npm start adds the API) and to close them all. */
  stack: Stack;
  db: StackDatabase;
  temporal: StackTemporal;
  gateway: RunningGateway;
  faults: CountingFaultInjector;
  taskQueue: string;
  worker: Worker;
  events: { nats: StackNats; stream: string; relay: OutboxRelay; consumer: ShippingConsumer };
  /** Stops the worker (letting in-flight tasks finish), then everything else, newest first. Never throws. */
  close(): Promise<void>;
};

export async function startDemoStack(opts: {
  config: Config;
  logger: Logger;
  plan: DemoPlan;
  taskQueue: string;
  /** Progress lines for the user (stderr). */
  say: (line: string) => void;
  /** Where the gateway sends its signed webhooks (npm start: the API's); none by default. */
  webhook?: WebhookTarget;
}): Promise<DemoStack> {
  const { config, logger, plan, taskQueue, say } = opts;
  return new Stack(config, logger, say).build(async (stack) => {
    // Bundling the workflows takes seconds: do it while Postgres and Temporal start.
    const bundle = bundleWorkflows({ traced: false }); // the demo and npm start trace nothing: no tracing interceptors
    bundle.catch(() => undefined); // awaited below; do not report it twice
    const [db, temporal, nats] = await Promise.all([stack.database(), stack.temporal({ ui: true }), stack.nats()]);
    await seedProducts(db.pool, AMPLE_STOCK);
    for (const [sku, units] of Object.entries(plan.stock)) await setStock(db.pool, sku, units);

    const faults = new CountingFaultInjector(plan.gatewayFaults);
    const gateway = await stack.gateway(db, { faults, webhook: opts.webhook });
    say(`gateway faults: ${JSON.stringify(faults.config)}`);
    const worker = await stack.worker(temporal, {
      taskQueue,
      workflowBundle: await bundle,
      identity: `demo-${process.pid}`,
      tracing: 'off',
      deps: {
        pool: db.pool,
        store: new IdempotencyStore(db.pool, { ...config.idempotency }),
        gateway: createGatewayClient({ baseUrl: gateway.url, timeoutMs: GATEWAY_CLIENT_TIMEOUT_MS }),
        leaseMs: Math.min(config.activityLeaseMs, DEMO_LEASE_MS),
      },
    });
    say(`worker: task queue ${taskQueue} on ${temporal.address} (namespace ${temporal.namespace})`);
    // The configured stream (EVENTS_STREAM), as every relay on this database uses: a relay publishes every unpublished
    // row of its database, so a stream of the run's own would take other runs' events away from their consumers.
    const stream = config.events.stream;
    const topology = eventTopology(stream);
    const consumer = await stack.consumer(db, nats, { topology });
    const relay = await stack.relay(db, nats, { topology });
    say(`events: outbox relay and shipping consumer on stream ${stream} (${nats.source})`);
    return { stack, db, temporal, gateway, faults, taskQueue, worker, events: { nats, stream, relay, consumer }, close: () => stack.close() };
  });
}
