// `npm run start:gateway`: the payment gateway as its own process, on its own tables.
import { nextSignal, runMain } from '../../src/cli/run-main';
import { loadConfig } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { provisionDatabase } from '../../src/db/provision';
import { createLogger } from '../../src/logger';
import { assertProductionSafe } from '../../src/production-checks';
import { GATEWAY_MIGRATIONS } from './schema';
import { startGateway } from './server';

runMain(async () => {
  const config = loadConfig();
  assertProductionSafe(config, 'gateway'); // before any connection: a refused setting exits at once
  const logger = createLogger(config, 'gateway');
  const db = await provisionDatabase(config, (line) => logger.trace({ postgres: line.trimEnd() }, 'embedded postgres'));
  try {
    const applied = await migrate(db.url, (msg) => logger.debug(msg), GATEWAY_MIGRATIONS);
    if (applied.length > 0) logger.info({ applied }, 'gateway migrations applied');
    const pool = createPool(db.url, {
      max: config.poolMax,
      onIdleError: (err) => logger.warn({ error: err.message }, 'idle postgres client failed; the pool replaces it'),
    });
    try {
      const { webhookUrl, webhookSecret, webhookDelayMs } = config.gateway;
      const gateway = await startGateway({
        pool,
        port: config.gateway.port,
        host: config.gateway.host,
        faults: config.gateway.faults,
        webhook: webhookUrl ? { url: webhookUrl, secret: webhookSecret, delayMs: webhookDelayMs } : undefined,
        logger,
      });
      logger.info({ url: gateway.url, source: db.source, webhookUrl }, 'payment gateway listening');
      const signal = await nextSignal();
      logger.info({ signal }, 'payment gateway closing');
      await gateway.close();
    } finally {
      await pool.end();
    }
  } finally {
    await db.stop();
  }
});
