// Two processes migrating one database at the same moment both succeed and leave one schema.
import { Client } from 'pg';
import { createEmptyDatabase } from '../helpers/database';
import { lastJsonLine, runScript } from '../helpers/processes';
import fs from 'node:fs';
import { APP_MIGRATIONS } from '../../src/db/migration-sets';
import { STORE_MIGRATIONS } from 'idempotent-sagas/store';

const namesIn = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();

test('concurrent db:migrate from two processes', async () => {
  const db = await createEmptyDatabase();
  try {
    const [a, b] = await Promise.all([
      runScript('src/cli/db-migrate.ts', [], { DATABASE_URL: db.url }),
      runScript('src/cli/db-migrate.ts', [], { DATABASE_URL: db.url }),
    ]);
    expect({ code: a.code, stderr: a.stderr }).toEqual({ code: 0, stderr: '' });
    expect({ code: b.code, stderr: b.stderr }).toEqual({ code: 0, stderr: '' });
    const appNames = namesIn(APP_MIGRATIONS.dir);
    const storeNames = namesIn(STORE_MIGRATIONS.dir);
    expect(storeNames.length).toBeGreaterThan(0);
    // Exactly one of the two applied each migration (the library's store set first, named with its prefix); the other found nothing to do.
    const applied = [lastJsonLine(a.stdout).applied, lastJsonLine(b.stdout).applied] as string[][];
    expect(applied.flat().sort()).toEqual([...storeNames.map((n) => `idempotent-sagas/${n}`), ...appNames].sort());

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const ran = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
      expect(ran.rows.map((r) => r.name)).toEqual(appNames);
      const storeRan = await client.query<{ name: string }>(`SELECT name FROM ${STORE_MIGRATIONS.table} ORDER BY id`);
      expect(storeRan.rows.map((r) => r.name)).toEqual(storeNames);
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
