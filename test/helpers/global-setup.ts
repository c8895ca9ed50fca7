// Runs once before all test files: find Postgres (DATABASE_URL, else the embedded default),
// then build the migrated template database each test file clones.
import './library-paths'; // first: the imports below reach the library by its package name
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from 'idempotent-sagas/testing';
import { migrate } from '../../src/db/migrate';
import { GATEWAY_MIGRATIONS } from '../../apps/gateway/schema';
import { SHIPPING_MIGRATIONS } from '../../apps/shipping/schema';
import { startDevServer } from '../../src/temporal/dev-server';
import { ADMIN_URL_VAR, TEMPLATE_DB_VAR, TEMPORAL_ADDRESS_VAR, databaseUrl } from './test-env';

declare global {
  var __testPostgresStop: (() => Promise<void>) | undefined;
  var __testTemporalStop: (() => Promise<void>) | undefined;
}

/** TEMPORAL_ADDRESS when set; otherwise one dev server for the whole run (each test file uses its own task queue). */
async function provideTemporal(): Promise<string> {
  if (process.env.TEMPORAL_ADDRESS) return process.env.TEMPORAL_ADDRESS;
  const server = await startDevServer({ cliPath: process.env.TEMPORAL_CLI_PATH });
  globalThis.__testTemporalStop = () => server.stop();
  return server.address;
}

export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: path.resolve(__dirname, '../../.data/test-postgres'),
      port: Number(process.env.TEST_EMBEDDED_PG_PORT ?? 54339),
      database: 'postgres',
    });
    adminUrl = pg.adminUrl;
    globalThis.__testPostgresStop = pg.owned ? () => pg.stop() : undefined;
  }
  const template = `idem_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrl(adminUrl, template));
  await migrate(databaseUrl(adminUrl, template), () => {}, GATEWAY_MIGRATIONS);
  await migrate(databaseUrl(adminUrl, template), () => {}, SHIPPING_MIGRATIONS);
  process.env[TEMPORAL_ADDRESS_VAR] = await provideTemporal();
  process.env[ADMIN_URL_VAR] = adminUrl;
  process.env[TEMPLATE_DB_VAR] = template;
}
