// The operator CLI. `npm run --silent cli -- tenants create <name>`: prints one JSON line
// {"tenantId", "apiKey"} (the key is shown once; only its SHA-256 is stored). `sagas …`: src/cli/sagas.ts.
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { TenantNameSchema, createTenant } from '../../apps/orders/domain/tenants';
import { createLogger } from '../logger';
import { UsageError, runMain } from './run-main';
import { addSagaCommands } from './sagas';

runMain(async () => {
  let action: (() => Promise<void>) | undefined;
  const program = new Command('cli')
    .description('Operator commands of idempotent-sagas')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const tenants = program.command('tenants').description('API tenants and their keys');
  tenants
    .command('create')
    .description('create a tenant and print its API key (shown once)')
    .argument('<name>', 'display name, 1–100 characters')
    .action((name: string) => {
      const parsed = TenantNameSchema.safeParse(name);
      if (!parsed.success) throw new UsageError(`tenant name: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
      action = async () => {
        const config = loadConfig();
        // Logs go to stderr and only warnings by default: stdout carries the one JSON line.
        const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, 'cli');
        const db = await openDatabase(config, logger);
        try {
          process.stdout.write(`${JSON.stringify(await createTenant(db.pool, parsed.data))}\n`);
        } finally {
          await db.close();
        }
      };
    });
  addSagaCommands(program, (chosen) => (action = chosen));
  try {
    program.parse(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  if (!action) {
    program.outputHelp({ error: true });
    return 2;
  }
  await action();
});
