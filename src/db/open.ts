// Start-up wiring for the database: find or start Postgres, migrate, open the pool.
import type { Pool } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { migrate } from './migrate';
import { createPool } from './pool';
import { provisionDatabase } from './provision';

export type OpenDatabase = {
  pool: Pool;
  url: string;
  source: 'DATABASE_URL' | 'embedded';
  close(): Promise<void>;
};

export async function openDatabase(config: Config, logger: Logger): Promise<OpenDatabase> {
  const db = await provisionDatabase(config, (line) => logger.trace({ postgres: line.trimEnd() }, 'embedded postgres'));
  logger.info({ source: db.source }, 'postgres ready');
  const applied = await migrate(db.url, (msg) => logger.debug(msg));
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  const pool = createPool(db.url, {
    max: config.poolMax,
    onIdleError: (err) => logger.warn({ error: err.message }, 'idle postgres client failed; the pool replaces it'),
  });
  return {
    pool,
    url: db.url,
    source: db.source,
    close: async () => {
      await pool.end();
      await db.stop();
    },
  };
}
