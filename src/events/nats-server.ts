// The event broker, NATS with JetStream: whether a server answers, where the `nats-server` binary is (or
// building it with `go install`), and a server of the stack's own as a process it can SIGKILL and restart
// (its JetStream store persists in a directory across restarts). The stack builder picks among them
// (Stack.nats); `npm run nats:install` finds or builds the binary, as CI does before the tests.
import fs from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { findGoBinary, goInstall, isExecutableFile } from 'idempotent-sagas/testing';
import { StartupError } from '../errors';
import type { ChildSpec } from '../stack/child-process';

/** The nats-server release `npm run nats:install` builds; docker-compose runs the same (image `nats:2.15.3`). */
export const NATS_SERVER_VERSION = 'v2.15.3';
export const NATS_SERVER_MODULE = `github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}`;
/** Where a NATS server is looked for when NATS_URL is unset. */
export const LOCAL_NATS_URL = 'nats://127.0.0.1:4222';
/**
 * What nats-server logs once it accepts clients, JetStream (and its recovered streams) included: the last line
 * of its start-up (`Server is ready`, deferred in server.Start) in every release from v2.2 to v2.15 at least.
 */
export const NATS_READY_TEXT = 'Server is ready';

/** No NATS server with JetStream could be reached or started; the message says what to do. */
export class NatsUnavailableError extends StartupError {
  override readonly name = 'NatsUnavailableError';
}

/** What a user can do when no NATS is available (each way is enough). */
export const HOW_TO_GET_NATS = [
  'NATS with JetStream is needed and none could be reached or started. Any one of these works:',
  '  1. set NATS_URL to a running NATS server with JetStream (nats://host:port);',
  `  2. run a NATS server with JetStream at 127.0.0.1:4222 (\`nats-server -js\`);`,
  `  3. put nats-server on PATH (or set NATS_SERVER_PATH to it), or install Go: then \`npm run nats:install\` builds it (go install ${NATS_SERVER_MODULE}).`,
].join('\n');

/** The URL without its password or token, for messages. */
export function redactNatsUrl(url: string): string {
  return url.replace(
    /^((?:nats|tls):\/\/)([^@/]*)@/,
    (_, scheme: string, auth: string) => `${scheme}${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`,
  );
}

/**
 * Why the server at `url` is no use as our broker — it does not answer, or answers without JetStream — or
 * undefined when it answers with JetStream. Each step waits at most `timeoutMs`; the connection is always closed.
 */
export async function natsProblem(url: string, timeoutMs = 1500): Promise<string | undefined> {
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({ servers: url, timeout: timeoutMs, reconnect: false, name: 'idempotent-sagas probe' });
  } catch (err) {
    return `does not answer (${messageOf(err)})`;
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
    await jsm.getAccountInfo();
    return undefined;
  } catch (err) {
    return `answers, but without JetStream (${messageOf(err)}; start it with -js)`;
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** True when a NATS server answers at `url` and has JetStream enabled. */
export async function natsAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  return (await natsProblem(url, timeoutMs)) === undefined;
}

/**
 * The nats-server binary: `explicitPath` (NATS_SERVER_PATH; an error when it is not an executable file), else
 * `nats-server` on PATH, else in Go's bin directory ($(go env GOBIN), $(go env GOPATH)/bin, ~/go/bin). Undefined when none.
 */
export function findNatsServer(explicitPath?: string, pathVar = process.env.PATH): string | undefined {
  if (explicitPath) {
    if (!isExecutableFile(explicitPath)) throw new NatsUnavailableError(`NATS_SERVER_PATH=${explicitPath} is not an executable file.`);
    return explicitPath;
  }
  return findGoBinary('nats-server', pathVar)?.path;
}

/**
 * Builds nats-server with `go install` (saying so first) when Go is present and returns its path; undefined
 * without Go. A failed build is a NatsUnavailableError.
 */
export function installNatsServer(say: (line: string) => void): string | undefined {
  try {
    return goInstall(NATS_SERVER_MODULE, 'nats-server', say, 'about a minute, once');
  } catch (err) {
    throw new NatsUnavailableError(messageOf(err));
  }
}

/**
 * A NATS server with JetStream as a process of its own, listening on 127.0.0.1:`port`, its JetStream data in
 * `storeDir` (created here, with the log's directory). Started again on the same port and directory after a
 * SIGKILL, it recovers its streams, their messages and their duplicate windows: ready means it logged
 * NATS_READY_TEXT and then answered a JetStream request.
 */
export function natsServerSpec(opts: { binary: string; port: number; storeDir: string; logFile: string; name?: string }): ChildSpec {
  const name = opts.name ?? 'nats-server';
  const url = `nats://127.0.0.1:${opts.port}`;
  fs.mkdirSync(opts.storeDir, { recursive: true });
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  return {
    name,
    command: opts.binary,
    // -n: the same server name at every start (by default it is a fresh random ID).
    args: ['-js', '-sd', opts.storeDir, '-a', '127.0.0.1', '-p', String(opts.port), '-n', name],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    cwd: opts.storeDir,
    readyText: NATS_READY_TEXT,
    logFile: opts.logFile,
    serving: async () => {
      const problem = await natsProblem(url, 5000);
      if (problem) throw new Error(`${url} ${problem}`);
    },
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
