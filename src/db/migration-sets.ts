// Where each schema's migrations live. Kept apart from migrate.ts (which loads the ESM-only
// runner) so tests can name the sets without loading it.
import path from 'node:path';
import type { MigrationSet } from 'idempotent-sagas/store';

export type { MigrationSet };

/** The app's own schema: orders, stock, payments, tenants, webhook events, wallets (the store's tables come from the library's set). */
export const APP_MIGRATIONS: MigrationSet = { dir: path.join(__dirname, 'migrations'), table: 'pgmigrations' };
