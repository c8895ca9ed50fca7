// Two processes migrating one database at the same moment both succeed and leave one schema.
import { Client } from 'pg';
import { createEmptyDatabase } from '../helpers/database';
import { lastJsonLine, runScript } from '../helpers/processes';
import fs from 'node:fs';
import { APP_MIGRATIONS } from '../../src/db/migration-sets';

test('concurrent db:migrate from two processes', async () => {
  const db = await createEmptyDatabase();
  try {
    const [a, b] = await Promise.all([
      runScript('src/cli/db-migrate.ts', [], { DATABASE_URL: db.url }),
      runScript('src/cli/db-migrate.ts', [], { DATABASE_URL: db.url }),
    ]);
    expect({ code: a.code, stderr: a.stderr }).toEqual({ code: 0, stderr: '' });
    expect({ code: b.code, stderr: b.stderr }).toEqual({ code: 0, stderr: '' });
    const files = fs.readdirSync(APP_MIGRATIONS.dir).filter((f) => f.endsWith('.sql'));
    // Exactly one of the two applied each migration; the other found nothing to do.
    const applied = [lastJsonLine(a.stdout).applied, lastJsonLine(b.stdout).applied] as string[][];
    expect(applied.flat().sort()).toEqual(files.map((f) => f.replace(/\.sql$/, '')).sort());

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const ran = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
      expect(ran.rows.map((r) => r.name)).toEqual(files.map((f) => f.replace(/\.sql$/, '')).sort());
      const tables = await client.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'idempotency_keys'`);
      expect(tables.rowCount).toBe(1);
    } finally {
      await client.end();
    }
    // A third run applies nothing.
    const again = await runScript('src/cli/db-migrate.ts', [], { DATABASE_URL: db.url });
    expect(lastJsonLine(again.stdout)).toEqual({ source: 'DATABASE_URL', applied: [] });
  } finally {
    await db.drop();
  }
});
