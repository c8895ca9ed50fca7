// `npm run start:worker`: one worker on the order task queue. Run several for scale-out.
// Needs a Temporal server (TEMPORAL_ADDRESS, default 127.0.0.1:7233), Postgres and the gateway.
import { runMain } from './cli/run-main';
import { loadConfig } from './config';
import { openDatabase } from './db/open';
import { createGatewayClient } from './gateway/client';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { createLogger } from './logger';
import { connectClient, connectWorker, ensureSearchAttributes } from './temporal/connection';
import { createOrderWorker } from './temporal/order-worker';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger(config, 'worker');
  const address = config.temporal.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const db = await openDatabase(config, logger);
  try {
    const { connection } = await connectClient(address, config.temporal.namespace);
    await ensureSearchAttributes(connection, config.temporal.namespace);
    await connection.close();
    const worker = await createOrderWorker({
      connection: await connectWorker(address),
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: config.temporal.workflowBundlePath ? { codePath: config.temporal.workflowBundlePath } : undefined,
      deps: {
        pool: db.pool,
        store: new IdempotencyStore(db.pool, { ...config.idempotency }),
        gateway: createGatewayClient({ baseUrl: config.gateway.url, timeoutMs: config.gateway.timeoutMs }),
        leaseMs: config.activityLeaseMs,
        chargeStepKind: config.chargeStepKind,
      },
    });
    logger.info({ address, taskQueue: config.temporal.taskQueue, pid: process.pid }, 'worker ready');
    await worker.run(); // returns after SIGINT/SIGTERM, once in-flight tasks are done
  } finally {
    await db.close();
  }
});
