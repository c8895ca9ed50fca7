// `npm run start:worker`: one worker on the order task queue. Run several for scale-out.
// Needs a Temporal server (TEMPORAL_ADDRESS, default 127.0.0.1:7233), Postgres and the gateway.
// With WORKER_HTTP_PORT it also serves /metrics, /healthz and /readyz (src/observability/worker-server.ts).
import { runMain } from '../../src/cli/run-main';
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/db/open';
import { createGatewayClient } from '../gateway/client';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { createLogger } from '../../src/logger';
import { connectClient, connectWorker, ensureSearchAttributes } from '../../src/temporal/connection';
import { createOrderWorker } from './order-worker';
import { setupTracing } from '../../src/observability/tracing';
import { buildWorkerServer, freeLocalPort } from '../../src/observability/worker-server';
import { installTemporalRuntime } from '../../src/temporal/runtime';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger(config, 'worker');
  // The SDK's metrics go to a local port the worker's /metrics reads; its logs go to pino, as JSON.
  const sdkMetricsAddress = config.workerHttp.port === undefined ? undefined : `127.0.0.1:${await freeLocalPort()}`;
  installTemporalRuntime(logger, { sdkHandlesSignals: true, ...(sdkMetricsAddress && { metricsBindAddress: sdkMetricsAddress }) });
  const address = config.temporal.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const tracing = setupTracing('worker'); // OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
  const db = await openDatabase(config, logger);
  try {
    const { connection } = await connectClient(address, config.temporal.namespace);
    await ensureSearchAttributes(connection, config.temporal.namespace);
    await connection.close();
    const store = new IdempotencyStore(db.pool, { ...config.idempotency });
    const workerConnection = await connectWorker(address);
    const worker = await createOrderWorker({
      connection: workerConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: config.temporal.workflowBundlePath ? { codePath: config.temporal.workflowBundlePath } : undefined,
      deps: {
        pool: db.pool,
        store,
        gateway: createGatewayClient({ baseUrl: config.gateway.url, timeoutMs: config.gateway.timeoutMs }),
        leaseMs: config.activityLeaseMs,
        chargeStepKind: config.chargeStepKind,
      },
      // Tracing off and bundled here: no tracing interceptors at all. A prebuilt bundle is traced: spans made, then dropped.
      tracing: tracing.enabled || config.temporal.workflowBundlePath ? tracing : 'off',
    });
    const http =
      config.workerHttp.port === undefined
        ? undefined
        : buildWorkerServer({
            pool: db.pool,
            counters: store.counters,
            pingTemporal: () => workerConnection.workflowService.getSystemInfo({}),
            defaultMetrics: true,
            ...(sdkMetricsAddress && { sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics` }),
          });
    if (http) await http.listen({ port: config.workerHttp.port, host: config.workerHttp.host });
    logger.info(
      { address, taskQueue: config.temporal.taskQueue, pid: process.pid, http: http ? `http://${config.workerHttp.host}:${config.workerHttp.port}` : 'off' },
      'worker ready',
    );
    try {
      await worker.run(); // returns after SIGINT/SIGTERM, once in-flight tasks are done
    } finally {
      await http?.close();
    }
  } finally {
    await db.close();
    await tracing.shutdown();
  }
});
