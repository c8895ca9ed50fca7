// A database of its own for each test file, cloned from the migrated template.
import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { createPool } from '../../src/db/pool';
import { ADMIN_URL_VAR, TEMPLATE_DB_VAR, databaseUrl, requireTestEnv } from './test-env';

export type TestDatabase = {
  name: string;
  url: string;
  pool: Pool;
  /** Runs one statement on a fresh connection (for counting rows or injecting failures). */
  count(sql: string, params?: unknown[]): Promise<number>;
  drop(): Promise<void>;
};

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: requireTestEnv(ADMIN_URL_VAR) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (no schema) — for migration tests. */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `idem_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: databaseUrl(requireTestEnv(ADMIN_URL_VAR), name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

export async function createTestDatabase(opts: { poolMax?: number } = {}): Promise<TestDatabase> {
  const name = `idem_test_${randomBytes(6).toString('hex')}`;
  const template = requireTestEnv(TEMPLATE_DB_VAR);
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = databaseUrl(requireTestEnv(ADMIN_URL_VAR), name);
  const pool = createPool(url, { max: opts.poolMax ?? 20 });
  return {
    name,
    url,
    pool,
    count: async (sql, params = []) => {
      const { rows } = await pool.query<{ n: string }>(sql, params);
      return Number(rows[0]?.n ?? NaN);
    },
    drop: async () => {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
