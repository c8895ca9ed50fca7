// What the saga and API benchmarks share, from the stack builder: a database of the run's own on the
// configured server (app and gateway migrations applied, dropped at the end), Temporal (TEMPORAL_ADDRESS or
// a dev server), client and worker connections, cleanups run newest first; and the top level that turns bad
// flags into usage errors.
import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { InvalidArgumentError } from 'commander';
import pino from 'pino';
import { runMain, UsageError } from '../src/cli/run-main';
import type { Config } from '../src/config';
import { runName, Stack, type StackDatabase } from '../src/stack/stack';

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
  /** A client on the workers' connection: sagas it starts with requestEagerStart begin on a worker of this process. */
  eagerClient: Client;
  workerConnection: NativeConnection;
  namespace: string;
  /** Runs `cleanup` at close, before what was set up earlier. */
  defer(cleanup: () => Promise<unknown>): void;
  /** Every cleanup newest first, then the database dropped and the database server stopped. Never throws. */
  close(): Promise<void>;
};

export async function startBenchStack(name: string, config: Config, log: (line: string) => void): Promise<BenchStack & { stack: Stack; db: StackDatabase }> {
  // Progress goes to `log`; the benchmark's own logger stays quiet so timings are not spent on logging.
  const stack = new Stack(config, pino({ level: 'silent' }), log);
  return stack.build(async () => {
    const db = await stack.database({ own: { name: runName(`idem_bench_${name}`) }, poolMax: 2 });
    const temporal = await stack.temporal();
    const source = temporal.source === 'dev server' ? ('dev-server' as const) : ('TEMPORAL_ADDRESS' as const);
    return {
      url: db.url,
      postgres: db.source,
      temporal: source,
      environment: { postgres: db.source, temporal: source, node: process.version, cpus: os.cpus().length },
      client: temporal.client,
      eagerClient: temporal.eagerClient,
      workerConnection: temporal.workerConnection,
      namespace: temporal.namespace,
      defer: (cleanup) => stack.defer('a benchmark part', cleanup),
      close: () => stack.close(),
      stack,
      db,
    };
  });
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
