// `npm run db:cleanup`: delete expired idempotency records in bounded batches and report how many.
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { IdempotencyStore } from '../idempotency/store';
import { createLogger } from '../logger';
import { runMain } from './run-main';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

runMain(async () => {
  const config = loadConfig();
  const opts = new Command('db:cleanup')
    .description('Delete expired idempotency records in batches')
    .option('--batch-size <n>', 'records deleted per statement', positiveInt, config.cleanupBatchSize)
    .option('--max-batches <n>', 'stop after this many batches', positiveInt)
    .parse()
    .opts<{ batchSize: number; maxBatches?: number }>();
  const logger = createLogger(config, 'db-cleanup');
  const db = await openDatabase(config, logger);
  try {
    const store = new IdempotencyStore(db.pool, { defaultTtlSeconds: config.idempotency.defaultTtlSeconds });
    const report = await store.cleanupExpired({
      batchSize: opts.batchSize,
      ...(opts.maxBatches !== undefined && { maxBatches: opts.maxBatches }),
      onBatch: (n) => process.stderr.write(`deleted ${n} expired records\n`),
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await db.close();
  }
});
