// `npm run db:cleanup`: delete what retention allows (DESIGN §10) in bounded batches and report it:
// expired records of no saga, records of sagas closed longer ago than their TTL, old webhook events, outbox
// rows published longer ago than their retention, old inbox rows.
// Never a record in progress, never one of an open saga. `--every <seconds>` repeats until Ctrl-C.
import { Command } from 'commander';
import { pruneWebhookEvents } from '../../apps/orders/api/webhook-events';
import { pruneInbox, pruneOutbox } from '../../apps/events/retention';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { CleanupLoop, IdempotencyStore } from 'idempotent-sagas/store';
import { createLogger } from '../logger';
import { decimal, integer, parseCommand } from './options';
import { runMain } from './run-main';

runMain(async () => {
  const config = loadConfig();
  const program = new Command('db:cleanup')
    .description(
      'Delete expired idempotency records, records of sagas closed longer ago than their TTL, old webhook events, published outbox events and inbox rows past their retention',
    )
    .option('--batch-size <n>', 'rows deleted per statement (1..100000)', integer('--batch-size', 1, 100_000), config.cleanupBatchSize)
    .option('--every <seconds>', 'run again this many seconds after each run ends, until Ctrl-C (0.1..86400)', decimal('--every', 0.1, 86_400));
  if (parseCommand(program, process.argv.slice(2), (t) => process.stdout.write(t)) === 'help') return;
  const opts = program.opts<{ batchSize: number; every?: number }>();
  const logger = createLogger(config, 'db-cleanup');
  const db = await openDatabase(config, logger);
  try {
    const store = new IdempotencyStore(db.pool, { ...config.idempotency });
    // What the last run's extra step deleted, by kind (the loop reports their sum).
    let last = { webhookEventsDeleted: 0, outboxEventsDeleted: 0, inboxEventsDeleted: 0 };
    const loop = new CleanupLoop(store, {
      everyMs: (opts.every ?? 1) * 1000,
      batchSize: opts.batchSize,
      extra: async () => {
        const batchSize = opts.batchSize;
        last = {
          webhookEventsDeleted: await pruneWebhookEvents(db.pool, { olderThanSeconds: config.webhookEventsRetentionSeconds, batchSize }),
          outboxEventsDeleted: await pruneOutbox(db.pool, { olderThanSeconds: config.events.outboxRetentionSeconds, batchSize }),
          inboxEventsDeleted: await pruneInbox(db.pool, { olderThanSeconds: config.events.inboxRetentionSeconds, batchSize }),
        };
        return last.webhookEventsDeleted + last.outboxEventsDeleted + last.inboxEventsDeleted;
      },
      onRun: ({ extraDeleted: _all, ...report }) => process.stdout.write(`${JSON.stringify({ ...report, ...last })}\n`),
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
