// The library's store in a schema of the caller's choice, with its own migration set; and a database
// migrated before the store had its own set (the tables exist, the set's table does not) adopts them.
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { IdempotencyStore, STORE_MIGRATIONS, migrate } from 'idempotent-sagas/store';
import { createEmptyDatabase } from '../helpers/database';

type EmptyDb = Awaited<ReturnType<typeof createEmptyDatabase>>;
let db: EmptyDb;
let pool: Pool;

beforeEach(async () => {
  db = await createEmptyDatabase();
  pool = new Pool({ connectionString: db.url, max: 4 });
});
afterEach(async () => {
  await pool.end();
  await db.drop();
});

const storeMigrationNames = (): string[] =>
  fs
    .readdirSync(STORE_MIGRATIONS.dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();

const tablesIn = async (schema: string): Promise<string[]> =>
  (await pool.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [schema])).rows.map((r) => r.t);

test('migrate(pool, { schema }) puts the tables and the set’s own migrations table in that schema; a store there applies an effect once', async () => {
  expect(await migrate(pool, { schema: 'billing_sagas' })).toEqual(storeMigrationNames());
  expect(await migrate(pool, { schema: 'billing_sagas' })).toEqual([]); // nothing left to apply
  expect(await tablesIn('billing_sagas')).toEqual(['idempotency_keys', 'idempotency_sagas', STORE_MIGRATIONS.table].sort());
  expect(await tablesIn('public')).toEqual([]);

  await pool.query('CREATE TABLE public.effects (id serial PRIMARY KEY)');
  const store = new IdempotencyStore(pool, { defaultTtlSeconds: 60, schema: 'billing_sagas' });
  let runs = 0;
  const once = () =>
    store.runOnce({
      scope: 'step',
      key: 'wf-1/charge',
      request: { amount: 5 },
      sagaId: 'wf-1',
      effect: async (client) => {
        runs += 1;
        return (await client.query<{ id: number }>('INSERT INTO public.effects DEFAULT VALUES RETURNING id')).rows[0]!.id;
      },
    });
  const first = await once();
  const second = await once();
  expect({ runs, replayed: [first.replayed, second.replayed], same: first.result === second.result }).toEqual({ runs: 1, replayed: [false, true], same: true });
  expect(Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM public.effects')).rows[0]!.n)).toBe(1);
  expect(Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM billing_sagas.idempotency_keys WHERE key = 'wf-1/charge'`)).rows[0]!.n)).toBe(1);
  // The same statements against another schema are other statements: a store on public finds no table there.
  await expect(new IdempotencyStore(pool, { defaultTtlSeconds: 60 }).get({ scope: 'step', key: 'wf-1/charge' })).rejects.toThrow(
    /idempotency_keys.*does not exist/,
  );
});

test('a database whose store tables were created before the library had its own migration set adopts them, keeping every record', async () => {
  // What an app-owned migration left: the tables in their final shape, a record, no idempotent_sagas_migrations.
  for (const name of storeMigrationNames()) {
    const sql = fs.readFileSync(path.join(STORE_MIGRATIONS.dir, `${name}.sql`), 'utf8');
    await pool.query(sql.slice(0, sql.indexOf('-- Down Migration')));
  }
  await pool.query(
    `INSERT INTO idempotency_keys (scope, key, fingerprint, status, result, saga_id) VALUES ('step', 'wf-0/reserve', 'fp', 'completed', '{"ok":true}', 'wf-0')`,
  );
  expect(await tablesIn('public')).toEqual(['idempotency_keys', 'idempotency_sagas']);

  expect(await migrate(pool)).toEqual(storeMigrationNames());
  expect(await tablesIn('public')).toEqual(['idempotency_keys', 'idempotency_sagas', STORE_MIGRATIONS.table].sort());
  const kept = await new IdempotencyStore(pool, { defaultTtlSeconds: 60 }).get({ scope: 'step', key: 'wf-0/reserve' });
  expect(kept).toMatchObject({ status: 'completed', result: { ok: true }, sagaId: 'wf-0' });
});
