// The shipping service's migrations: its own directory and its own migrations table, apart from the app's.
import path from 'node:path';
import type { MigrationSet } from '../../src/db/migrate';

export const SHIPPING_MIGRATIONS: MigrationSet = {
  dir: path.join(__dirname, 'migrations'),
  table: 'shipping_pgmigrations',
};
