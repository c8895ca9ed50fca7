import { Client } from 'pg';
import { ADMIN_URL_VAR, TEMPLATE_DB_VAR } from './test-env';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env[ADMIN_URL_VAR];
  const template = process.env[TEMPLATE_DB_VAR];
  if (adminUrl && template) {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).finally(() => admin.end());
  }
  await globalThis.__testTemporalStop?.();
  await globalThis.__testPostgresStop?.();
}
