// `npm run db:cleanup`: delete what retention allows (DESIGN §10) in bounded batches and report it:
// expired records of no saga, records of sagas closed longer ago than their TTL, old webhook events.
// Never a record in progress, never one of an open saga. `--every <seconds>` repeats until Ctrl-C.
import { Command } from 'commander';
import { pruneWebhookEvents } from '../../apps/orders/api/webhook-events';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { CleanupLoop, IdempotencyStore } from 'idempotent-sagas/store';
import { createLogger } from '../logger';
import { decimal, integer, parseCommand } from './options';
import { runMain } from './run-main';

runMain(async () => {
  const config = loadConfig();
  const program = new Command('db:cleanup')
    .description('Delete expired idempotency records, records of sagas closed longer ago than their TTL, and old webhook events')
    .option('--batch-size <n>', 'rows deleted per statement (1..100000)', integer('--batch-size', 1, 100_000), config.cleanupBatchSize)
    .option('--every <seconds>', 'run again this many seconds after each run ends, until Ctrl-C (0.1..86400)', decimal('--every', 0.1, 86_400));
  if (parseCommand(program, process.argv.slice(2), (t) => process.stdout.write(t)) === 'help') return;
  const opts = program.opts<{ batchSize: number; every?: number }>();
  const logger = createLogger(config, 'db-cleanup');
  const db = await openDatabase(config, logger);
  try {
    const store = new IdempotencyStore(db.pool, { ...config.idempotency });
    const loop = new CleanupLoop(store, {
      everyMs: (opts.every ?? 1) * 1000,
      batchSize: opts.batchSize,
      extra: () => pruneWebhookEvents(db.pool, { olderThanSeconds: config.webhookEventsRetentionSeconds, batchSize: opts.batchSize }),
      onRun: ({ extraDeleted, ...report }) => process.stdout.write(`${JSON.stringify({ ...report, webhookEventsDeleted: extraDeleted })}\n`),
      onError: (err) => process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`),
    });
    if (opts.every === undefined) {
      await loop.runOnce();
      if (loop.totals.failedRuns > 0) process.exitCode = 1;
      return;
    }
    await new Promise<void>((resolve) => {
      const stop = (): void => void loop.stop().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      loop.start();
    });
  } finally {
    await db.close();
  }
});
