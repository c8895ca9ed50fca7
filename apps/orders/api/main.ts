// `npm run start:api`: the orders API on PORT (default 3000). Needs Postgres (DATABASE_URL or the
// embedded default), a Temporal server (TEMPORAL_ADDRESS, default 127.0.0.1:7233) and workers.
import { runMain } from '../../../src/cli/run-main';
import { setupTracing } from '../../../src/observability/tracing';
import { loadConfig } from '../../../src/config';
import { openDatabase } from '../../../src/db/open';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { createLogger } from '../../../src/logger';
import { assertProductionSafe } from '../../../src/production-checks';
import { connectClient, ensureSearchAttributes } from '../../../src/temporal/connection';
import { buildApiApp } from './app';

const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

runMain(async () => {
  const config = loadConfig();
  assertProductionSafe(config, 'api'); // before any connection: a refused setting exits at once
  const logger = createLogger(config, 'api');
  const address = config.temporal.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const tracing = setupTracing('api'); // OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
  const db = await openDatabase(config, logger);
  try {
    const { client, connection } = await connectClient(address, config.temporal.namespace);
    try {
      await ensureSearchAttributes(connection, config.temporal.namespace);
      const store = new IdempotencyStore(db.pool, { ...config.idempotency });
      const app = buildApiApp({
        pool: db.pool,
        store,
        temporal: { client, taskQueue: config.temporal.taskQueue },
        logger,
        processMetrics: true,
        faultPauseAfterStartMs: config.api.faultPauseAfterStartMs,
        sagaOptions: config.saga,
        webhook: { secret: config.gateway.webhookSecret, toleranceSeconds: config.gateway.webhookToleranceSeconds },
      });
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          logger.info({ signal }, 'stopping');
          app.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.listen({ host: config.api.host, port: config.api.port });
      logger.info({ url: `http://${config.api.host}:${config.api.port}`, taskQueue: config.temporal.taskQueue }, 'api ready');
      await stopped;
    } finally {
      await connection.close();
    }
  } finally {
    await db.close();
    await tracing.shutdown();
  }
});
