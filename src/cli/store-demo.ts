// `npm run demo:store`: the idempotency store on its own, on the embedded default (or DATABASE_URL):
// duplicates, a reused key, a tombstone, a stored failure and a lease takeover, each counted (src/demo/store-tour.ts).
import { IdempotencyStore } from 'idempotent-sagas/store';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { storeTour } from '../demo/store-tour';
import { createLogger } from '../logger';
import { runMain } from './run-main';

runMain(async () => {
  const config = loadConfig();
  const db = await openDatabase(config, createLogger(config, 'store-demo'));
  try {
    const summary = await storeTour(db.pool, new IdempotencyStore(db.pool, { ...config.idempotency }));
    process.stdout.write(`${JSON.stringify({ source: db.source, ...summary })}\n`);
    return summary.invariantsHeld ? 0 : 1;
  } finally {
    await db.close();
  }
});
