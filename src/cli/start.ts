// `npm start`: the whole stack for a user, in this process: Postgres (embedded unless DATABASE_URL),
// Temporal (a dev server with its UI unless TEMPORAL_ADDRESS), the payment gateway (its webhooks sent
// to this API), an order worker on TEMPORAL_TASK_QUEUE and the orders API on PORT (default 3000).
// SIGINT/SIGTERM stop the API, then the worker, gateway, Temporal and Postgres, in that order.
import { WEBHOOK_ROUTE } from '../../apps/orders/api/routes/webhooks';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { type DemoStack, startDemoStack } from '../demo/stack';
import { EXIT_INTERRUPTED, onInterrupt, runCommand } from './command';

runCommand(
  'start',
  () => null,
  async ({ config, logger, say }) => {
    // The API's address as the gateway (on this machine) reaches it.
    const apiHost = config.api.host === '0.0.0.0' || config.api.host === '::' ? '127.0.0.1' : config.api.host;
    const apiUrl = `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${config.api.port}`;

    let stack: DemoStack | undefined;
    let stopRequested: NodeJS.Signals | undefined;
    let stopped!: () => void;
    const whenStopped = new Promise<void>((resolve) => (stopped = resolve));
    onInterrupt((signal, count) => {
      if (count > 1) {
        say(`${signal} again: exiting at once`);
        process.exit(EXIT_INTERRUPTED);
      }
      stopRequested = signal;
      say(`\n${signal}: stopping (again to exit at once)`);
      stopped();
    });

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
        await stack.stack.api(
          {
            pool: stack.db.pool,
            store: new IdempotencyStore(stack.db.pool, { ...config.idempotency }),
            // The worker runs in this process: sagas start on it eagerly, over its connection.
            temporal: { client: stack.temporal.eagerClient, taskQueue: stack.taskQueue, eagerStart: true },
            logger: logger.child({ component: 'api' }),
            processMetrics: true,
            webhook: { secret: config.gateway.webhookSecret, toleranceSeconds: config.gateway.webhookToleranceSeconds },
          },
          { host: config.api.host, port: config.api.port },
        );
        say('');
        say(`orders API:   ${apiUrl}   (OpenAPI ${apiUrl}/docs/json)`);
        say(`metrics:      ${apiUrl}/metrics`);
        say(`Temporal UI:  ${stack.temporal.uiUrl ?? '(none: set TEMPORAL_UI_PORT for the server at TEMPORAL_ADDRESS)'}`);
        say(`gateway:      ${stack.gateway.url} (webhooks to ${apiUrl}${WEBHOOK_ROUTE})`);
        say(`a tenant:     npm run --silent cli -- tenants create acme${stack.db.source === 'embedded' ? '' : '   (with the same DATABASE_URL)'}`);
        say('Ctrl-C stops everything.');
        await whenStopped;
      }
    } finally {
      await stack.close(); // the API first, then the worker, gateway, Temporal and Postgres
      say('stopped');
    }
    return stopRequested ? 0 : 1;
  },
);
