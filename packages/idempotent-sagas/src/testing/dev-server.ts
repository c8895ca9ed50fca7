// A local Temporal dev server through @temporalio/testing, on the CLI binary found by cli-binary.ts.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { HOW_TO_GET_TEMPORAL, TemporalUnavailableError, findTemporalCli, installTemporalCli } from './cli-binary';
import { SEARCH_ATTRIBUTES } from './search-attributes';

export type DevServer = {
  address: string;
  namespace: string;
  /** The Temporal UI, when started with `ui`. */
  uiUrl: string | undefined;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
};

export type DevServerOptions = {
  cliPath?: string | undefined;
  namespace?: string;
  /** SQLite file so that state survives a restart; in memory when unset. */
  dbFilename?: string;
  port?: number;
  ui?: boolean;
  uiPort?: number | undefined;
  log?: (line: string) => void;
};

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const log = opts.log ?? (() => {});
  const namespace = opts.namespace ?? 'default';
  const cli = findTemporalCli(opts.cliPath) ?? installTemporalCli(log);
  const uiPort = opts.ui ? opts.uiPort : undefined;
  const server = {
    namespace,
    ip: '127.0.0.1',
    ...(opts.port !== undefined && { port: opts.port }),
    ...(opts.dbFilename !== undefined && { dbFilename: opts.dbFilename }),
    ...(opts.ui && { ui: true }),
    ...(uiPort !== undefined && { uiPort }),
    searchAttributes: SEARCH_ATTRIBUTES,
    log: { format: 'pretty', level: 'error' },
    // The CLI's start-up banner would land on our stdout, whose last line is the command's JSON.
    extraArgs: ['--output', 'none'],
  };
  let env: TestWorkflowEnvironment;
  try {
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
