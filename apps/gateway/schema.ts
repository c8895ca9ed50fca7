// The gateway's migrations: its own directory and its own migrations table, apart from the app's.
import path from 'node:path';
import type { MigrationSet } from '../../src/db/migrate';

export const GATEWAY_MIGRATIONS: MigrationSet = {
  dir: path.join(__dirname, 'migrations'),
  table: 'gateway_pgmigrations',
};
