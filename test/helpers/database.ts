// A database of its own for each test file, cloned from the migrated template (the library's test databases).
import { randomBytes } from 'node:crypto';
import { createDatabase, createTestDatabase as createLibraryTestDatabase, dropDatabase, type TestDatabase } from 'idempotent-sagas/testing';
import { ADMIN_URL_VAR, TEMPLATE_DB_VAR, requireTestEnv } from './test-env';

export type { TestDatabase };

/** Creates an empty database (no schema) — for migration tests. */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `idem_test_${randomBytes(6).toString('hex')}`;
  const adminUrl = requireTestEnv(ADMIN_URL_VAR);
  return { name, url: await createDatabase(adminUrl, name), drop: () => dropDatabase(adminUrl, name) };
}

/** A copy of the template the global setup migrated (the app's, the store's and the gateway's tables). */
export function createTestDatabase(opts: { poolMax?: number } = {}): Promise<TestDatabase> {
  return createLibraryTestDatabase(requireTestEnv(ADMIN_URL_VAR), { template: requireTestEnv(TEMPLATE_DB_VAR), poolMax: opts.poolMax ?? 20 });
}
