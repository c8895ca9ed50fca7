// Everything one demo run needs, in this process: Postgres (embedded unless DATABASE_URL), Temporal
// (a dev server with its UI unless TEMPORAL_ADDRESS), the payment gateway on a free port with seeded
// faults, and an order worker on a task queue of the run's own. close() undoes it in reverse order.
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import type { Config } from '../config';
import { StartupError } from '../errors';
import { migrate } from '../db/migrate';
import { type OpenDatabase, openDatabase } from '../db/open';
import { createPool } from '../db/pool';
import { seedProducts, setStock } from '../../apps/orders/domain/catalog';
import { createGatewayClient } from '../../apps/gateway/client';
import { GATEWAY_MIGRATIONS } from '../../apps/gateway/schema';
import { type RunningGateway, startGateway } from '../../apps/gateway/server';
import type { WebhookTarget } from '../../apps/gateway/webhooks';
import { IdempotencyStore } from 'idempotent-sagas/store';
import type { Logger } from '../logger';
import { connectClient, connectWorker, ensureSearchAttributes } from '../temporal/connection';
import { startDevServer } from '../temporal/dev-server';
import { bundleWorkflows, createOrderWorker } from '../../apps/worker/order-worker';
import { CountingFaultInjector } from './counting-faults';
import { AMPLE_STOCK, type DemoPlan, GATEWAY_CLIENT_TIMEOUT_MS } from './plan';

/** Leases on the charge: short, so a compensation waiting one out (after a lost worker) does not wait long. */
export const DEMO_LEASE_MS = 3000;
/** The gateway is a separate service in production: here it gets a pool of its own. */
const GATEWAY_POOL_MAX = 10;
/** How long each part may take to close before shutdown goes on without it. */
const CLOSE_TIMEOUT_MS = 5000;

export type DemoStack = {
  pool: Pool;
  database: OpenDatabase['source'];
  temporal: { address: string; namespace: string; source: 'TEMPORAL_ADDRESS' | 'dev server'; uiUrl: string | undefined };
  client: Client;
  gateway: RunningGateway;
  faults: CountingFaultInjector;
  taskQueue: string;
  worker: Worker;
  /** Stops the worker (letting in-flight tasks finish), then everything else, newest first. Never throws. */
  close(): Promise<void>;
};

/** Something needed for the run could not be started; the message says what and what to do. */
export class DemoStartError extends StartupError {
  override readonly name = 'DemoStartError';
}

type Closer = { what: string; close: () => Promise<unknown> };

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
  const closers: Closer[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      // Bounded: with Postgres or Temporal gone (Ctrl-C in a terminal stops them too), a close may never
      // settle. The timer also keeps the event loop alive, so the process cannot drain and exit early.
      let timer: NodeJS.Timeout | undefined;
      try {
        const outcome = await Promise.race([
          c.close().then(() => 'closed' as const),
          new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), CLOSE_TIMEOUT_MS))),
        ]);
        if (outcome === 'timed out') logger.warn(`closing ${c.what} took over ${CLOSE_TIMEOUT_MS} ms; going on`);
      } catch (err) {
        logger.warn({ err: messageOf(err) }, `closing ${c.what} failed`);
      } finally {
        clearTimeout(timer);
      }
    }
  };

  try {
    // Bundling the workflows takes seconds: do it while Postgres and Temporal start.
    const bundle = bundleWorkflows();
    bundle.catch(() => undefined); // awaited below; do not report it twice

    const [db, temporal] = await Promise.allSettled([
      openDatabase(config, logger).catch((err: unknown) => {
        if (!config.databaseUrl) throw err; // the embedded default explains itself (EmbeddedPostgresError)
        throw new DemoStartError(`cannot use the database at DATABASE_URL: ${messageOf(err)}`);
      }),
      startTemporal(config, logger, say),
    ]);
    if (db.status === 'fulfilled') closers.push({ what: 'postgres', close: () => db.value.close() });
    if (temporal.status === 'fulfilled') closers.push({ what: 'temporal', close: () => temporal.value.stop() });
    if (db.status === 'rejected') throw db.reason;
    if (temporal.status === 'rejected') throw temporal.reason;
    const { pool } = db.value;
    const { address, namespace, uiUrl, source } = temporal.value;
    say(`postgres: ${db.value.source === 'embedded' ? `embedded (${config.embeddedPostgres.dataDir})` : 'DATABASE_URL'}`);

    await migrate(db.value.url, (msg) => logger.debug(msg), GATEWAY_MIGRATIONS);
    await seedProducts(pool, AMPLE_STOCK);
    for (const [sku, units] of Object.entries(plan.stock)) await setStock(pool, sku, units);

    const gatewayPool = createPool(db.value.url, {
      max: GATEWAY_POOL_MAX,
      onIdleError: (err) => logger.warn({ err: err.message }, 'idle postgres client of the gateway failed'),
    });
    closers.push({ what: 'the gateway pool', close: () => gatewayPool.end() });
    const faults = new CountingFaultInjector(plan.gatewayFaults);
    const gateway = await startGateway({ pool: gatewayPool, port: 0, faults, webhook: opts.webhook, logger: logger.child({ component: 'gateway' }) });
    closers.push({
      what: 'the gateway',
      close: async () => {
        // Closed after the worker, its only client: a connection still open now is dead weight. Without
        // this, a socket left over from a lost answer can hold close() up to Node's 60 s headers timeout.
        const closing = gateway.close();
        gateway.app.server.closeAllConnections();
        await closing;
      },
    });
    say(`payment gateway: ${gateway.url} (faults ${JSON.stringify(faults.config)})`);

    const { client, connection } = await connectClient(address, namespace).catch((err: unknown) => {
      throw new DemoStartError(`cannot reach Temporal at ${address}${source === 'TEMPORAL_ADDRESS' ? ' (TEMPORAL_ADDRESS)' : ''}: ${messageOf(err)}`);
    });
    closers.push({ what: 'the temporal client', close: () => connection.close() });
    if (source === 'TEMPORAL_ADDRESS') await ensureSearchAttributes(connection, namespace);

    const workerConnection = await connectWorker(address);
    closers.push({ what: 'the worker connection', close: () => workerConnection.close() });
    const worker = await createOrderWorker({
      connection: workerConnection,
      namespace,
      taskQueue,
      workflowBundle: await bundle,
      identity: `demo-${process.pid}`,
      deps: {
        pool,
        store: new IdempotencyStore(pool, { ...config.idempotency }),
        gateway: createGatewayClient({ baseUrl: gateway.url, timeoutMs: GATEWAY_CLIENT_TIMEOUT_MS }),
        leaseMs: Math.min(config.activityLeaseMs, DEMO_LEASE_MS),
      },
    });
    const running = worker.run();
    running.catch((err: unknown) => logger.error({ err }, 'the order worker failed'));
    closers.push({
      what: 'the worker',
      close: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      },
    });
    say(`worker: task queue ${taskQueue} on ${address} (namespace ${namespace})`);

    return {
      pool,
      database: db.value.source,
      temporal: { address, namespace, source, uiUrl },
      client,
      gateway,
      faults,
      taskQueue,
      worker,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

type StartedTemporal = { address: string; namespace: string; uiUrl: string | undefined; source: 'TEMPORAL_ADDRESS' | 'dev server'; stop(): Promise<void> };

async function startTemporal(config: Config, logger: Logger, say: (line: string) => void): Promise<StartedTemporal> {
  const { namespace } = config.temporal;
  if (config.temporal.address) {
    const address = config.temporal.address;
    const host = address.slice(0, address.lastIndexOf(':'));
    const uiUrl = config.temporal.uiPort !== undefined ? `http://${host}:${config.temporal.uiPort}` : undefined;
    say(`temporal: ${address} (TEMPORAL_ADDRESS)${uiUrl ? `, UI at ${uiUrl}` : ''}`);
    return { address, namespace, uiUrl, source: 'TEMPORAL_ADDRESS', stop: async () => {} };
  }
  say('temporal: starting a dev server with its UI…');
  const server = await startDevServer({
    cliPath: config.temporal.cliPath,
    namespace,
    ui: true,
    uiPort: config.temporal.uiPort,
    log: (line) => logger.info(line),
  });
  say(`temporal: dev server at ${server.address}`);
  if (server.uiUrl) say(`Temporal UI: ${server.uiUrl}`);
  return { address: server.address, namespace, uiUrl: server.uiUrl, source: 'dev server', stop: () => server.stop() };
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  return err instanceof Error ? err.message || err.name : String(err);
}
