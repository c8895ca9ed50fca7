// Names shared by the global setup and the per-file helpers (passed through process.env).
export const ADMIN_URL_VAR = 'IDEMPOTENT_SAGAS_TEST_ADMIN_URL';
export const TEMPLATE_DB_VAR = 'IDEMPOTENT_SAGAS_TEST_TEMPLATE_DB';
export const TEMPORAL_ADDRESS_VAR = 'IDEMPOTENT_SAGAS_TEST_TEMPORAL_ADDRESS';

export function requireTestEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (its globalSetup provides it)`);
  return value;
}

export { databaseUrl } from 'idempotent-sagas/testing';
