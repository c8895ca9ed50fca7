// `npm run db:migrate`: apply pending migrations to DATABASE_URL (or the embedded default).
import { loadConfig } from '../config';
import { migrate } from '../db/migrate';
import { provisionDatabase } from '../db/provision';
import { runMain } from './run-main';

runMain(async () => {
  const config = loadConfig();
  const db = await provisionDatabase(config);
  try {
    const applied = await migrate(db.url);
    process.stdout.write(`${JSON.stringify({ source: db.source, applied })}\n`);
  } finally {
    await db.stop();
  }
});
