// `npm run openapi`: writes the API's OpenAPI document to openapi.json (committed; a test checks it
// against the running app). Builds the app without connecting anywhere: the document needs no service.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { Pool } from 'pg';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { buildApiApp } from '../../apps/orders/api/app';
import { runMain } from './run-main';

export const OPENAPI_FILE = path.resolve(__dirname, '../../openapi.json');

/** The document as /docs/json serves it, formatted as committed. */
export async function renderOpenApi(): Promise<string> {
  const pool = new Pool(); // never queried: building the document sends nothing
  const app = buildApiApp({ pool, store: new IdempotencyStore(pool, { defaultTtlSeconds: 1 }), temporal: { client: new Client(), taskQueue: 'unused' } });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await pool.end();
  }
}

if (require.main === module) {
  runMain(async () => {
    await writeFile(OPENAPI_FILE, await renderOpenApi());
    process.stdout.write(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}\n`);
  });
}
