// A local Temporal dev server through @temporalio/testing, on the CLI binary found by temporal-cli.ts.
import type * as TemporalTesting from '@temporalio/testing';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { defineSearchAttributeKey } from '@temporalio/common';

/** A search attribute key, as defineSearchAttributeKey makes it. */
type SearchAttributeKey = ReturnType<typeof defineSearchAttributeKey>;
import { HOW_TO_GET_TEMPORAL, TemporalUnavailableError, findTemporalCli, installTemporalCli } from './temporal-cli';

/** A running dev server; `stop` tears it down. */
export type DevServer = {
  address: string;
  namespace: string;
  /** The Temporal UI, when started with `ui`. */
  uiUrl: string | undefined;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
};

/** How to start the dev server. */
export type DevServerOptions = {
  /** The `temporal` CLI to run; default TEMPORAL_CLI_PATH's rules: PATH, then $(go env GOPATH)/bin, then `go install`. */
  cliPath?: string | undefined;
  /** Search attributes to register at start (e.g. the saga status the onStatus callback publishes). */
  searchAttributes?: SearchAttributeKey[];
  namespace?: string;
  /** SQLite file so that state survives a restart; in memory when unset. */
  dbFilename?: string;
  port?: number;
  ui?: boolean;
  uiPort?: number | undefined;
  log?: (line: string) => void;
  /** Dynamic configuration values for the server, e.g. `{ 'system.enableActivityEagerExecution': true }`. */
  dynamicConfig?: Record<string, string | number | boolean>;
};

/**
 * Starts a Temporal dev server on 127.0.0.1 (a free port unless `port`): the CLI found on this machine, or
 * built with Go, or as a last resort the SDK's download. TemporalUnavailableError says what to do otherwise.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const log = opts.log ?? (() => {});
  const namespace = opts.namespace ?? 'default';
  const cli = findTemporalCli(opts.cliPath ?? process.env.TEMPORAL_CLI_PATH) ?? installTemporalCli(log);
  const uiPort = opts.ui ? opts.uiPort : undefined;
  const server = {
    namespace,
    ip: '127.0.0.1',
    ...(opts.port !== undefined && { port: opts.port }),
    ...(opts.dbFilename !== undefined && { dbFilename: opts.dbFilename }),
    ...(opts.ui && { ui: true }),
    ...(uiPort !== undefined && { uiPort }),
    ...(opts.searchAttributes && { searchAttributes: opts.searchAttributes }),
    log: { format: 'pretty', level: 'error' },
    // The CLI's start-up banner would land on our stdout, whose last line is the command's JSON.
    extraArgs: ['--output', 'none', ...dynamicConfigArgs(opts.dynamicConfig)],
  };
  let env: TestWorkflowEnvironment;
  try {
    const TestWorkflowEnvironment = await loadTestWorkflowEnvironment();
    env = cli
      ? await TestWorkflowEnvironment.createLocal({ server: { ...server, executable: { type: 'existing-path', path: cli.path } } })
      : // Last resort: the SDK downloads a dev server (needs internet).
        await TestWorkflowEnvironment.createLocal({ server });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TemporalUnavailableError(`${cli ? `The Temporal dev server at ${cli.path} did not start: ${why}\n` : `${why}\n`}${HOW_TO_GET_TEMPORAL}`);
  }
  const address = env.address;
  const port = Number(address.split(':').pop());
  const uiUrl = opts.ui ? `http://127.0.0.1:${uiPort ?? port + 1000}` : undefined;
  log(`temporal dev server at ${address}${uiUrl ? `, UI at ${uiUrl}` : ''} (${cli ? `CLI found by ${cli.foundBy}` : 'SDK download'})`);
  return { address, namespace, uiUrl, env, stop: () => env.teardown() };
}

/** The CLI arguments that set each dynamic configuration value. */
export function dynamicConfigArgs(values: Record<string, string | number | boolean> = {}): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/** A Temporal to test against: an address, and how to let go of it. */
export type TestTemporal = { address: string; namespace: string; foundBy: 'TEMPORAL_ADDRESS' | 'dev server'; stop(): Promise<void> };

/** TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE) when set; otherwise a dev server started for the tests. */
export async function findTemporal(opts: DevServerOptions = {}): Promise<TestTemporal> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (address) return { address, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', foundBy: 'TEMPORAL_ADDRESS', stop: async () => {} };
  const server = await startDevServer(opts);
  return { address: server.address, namespace: server.namespace, foundBy: 'dev server', stop: () => server.stop() };
}

/** Loaded when a server is started: @temporalio/testing is an optional peer dependency. */
async function loadTestWorkflowEnvironment(): Promise<typeof TestWorkflowEnvironment> {
  try {
    const mod = (await import('@temporalio/testing')) as typeof TemporalTesting & { default?: typeof TemporalTesting };
    return mod.TestWorkflowEnvironment ?? mod.default!.TestWorkflowEnvironment;
  } catch (err) {
    throw new TemporalUnavailableError(`the @temporalio/testing package is needed to start a dev server: ${(err as Error).message}`);
  }
}
