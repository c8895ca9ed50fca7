// What the saga and API benchmarks share: a database of the run's own on the configured server (app and
// gateway migrations applied, dropped at the end), Temporal (TEMPORAL_ADDRESS or a dev server), client and
// worker connections, cleanups run newest first, and the top level that turns bad flags into usage errors.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { InvalidArgumentError } from 'commander';
import { createDatabase, dropDatabase } from 'idempotent-sagas/testing';
import { GATEWAY_MIGRATIONS } from '../apps/gateway/schema';
import { ensureSearchAttributes } from '../src/temporal/connection';
import { runMain, UsageError } from '../src/cli/run-main';
import type { Config } from '../src/config';
import { migrate } from '../src/db/migrate';
import { provisionDatabase } from '../src/db/provision';
import { startDevServer } from '../src/temporal/dev-server';

export type BenchStack = {
  /** The run's own database, migrated. */
  url: string;
  /** Where the database server came from. */
  postgres: 'DATABASE_URL' | 'embedded';
  /** Where Temporal came from. */
  temporal: 'TEMPORAL_ADDRESS' | 'dev-server';
  /** What the run's last JSON line reports about where it ran. */
  environment: { postgres: string; temporal: string; node: string; cpus: number };
  client: Client;
  workerConnection: NativeConnection;
  namespace: string;
  /** Runs `cleanup` at close, before what was set up earlier. */
  defer(cleanup: () => Promise<unknown>): void;
  /** Every cleanup newest first, then the database dropped and the database server stopped. Never throws. */
  close(): Promise<void>;
};

export async function startBenchStack(name: string, config: Config, log: (line: string) => void): Promise<BenchStack> {
  const server = await provisionDatabase(config, log);
  const dbName = `idem_bench_${name}_${randomBytes(6).toString('hex')}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: Error) => log(`cleanup: ${err.message}`));
  };
  cleanups.push(() => server.stop());
  try {
    log(`creating database ${dbName}`);
    const url = await createDatabase(server.url, dbName);
    cleanups.push(() => dropDatabase(server.url, dbName).catch((err: Error) => log(`could not drop ${dbName}: ${err.message}`)));
    await migrate(url);
    await migrate(url, () => {}, GATEWAY_MIGRATIONS);
    let address = config.temporal.address;
    if (!address) {
      log('starting a Temporal dev server (set TEMPORAL_ADDRESS to use another)');
      const dev = await startDevServer({ cliPath: config.temporal.cliPath, log });
      cleanups.push(() => dev.stop());
      address = dev.address;
    }
    const namespace = config.temporal.namespace;
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    await ensureSearchAttributes(connection, namespace);
    const workerConnection = await NativeConnection.connect({ address });
    cleanups.push(() => workerConnection.close());
    const temporal = config.temporal.address ? ('TEMPORAL_ADDRESS' as const) : ('dev-server' as const);
    return {
      url,
      postgres: server.source,
      temporal,
      environment: { postgres: server.source, temporal, node: process.version, cpus: os.cpus().length },
      client: new Client({ connection, namespace }),
      workerConnection,
      namespace,
      defer: (c) => void cleanups.push(c),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The benchmark's top level: a bad flag is a usage error (exit 2), anything else as runMain reports it. */
export function runBench(main: () => Promise<void>): void {
  runMain(async () => {
    try {
      await main();
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
      throw err;
    }
  });
}
