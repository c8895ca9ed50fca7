// Whole databases on a server: for runs that want one of their own (chaos runs, tests).
// Names are plain identifiers (checked), so they are written into the statements as they are.
import { Client } from 'pg';

/** The same server as `serverUrl`, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates database `name` (lower-case letters, digits, underscores) on the server of `serverUrl`, as a copy
 * of `template` when given (a migrated template is the fast way to many test databases); returns its URL.
 */
export async function createDatabase(serverUrl: string, name: string, opts: { template?: string } = {}): Promise<string> {
  if (!NAME.test(name)) throw new Error(`not a plain database name: ${JSON.stringify(name)}`);
  if (opts.template !== undefined && !NAME.test(opts.template)) throw new Error(`not a plain database name: ${JSON.stringify(opts.template)}`);
  await onServer(serverUrl, `CREATE DATABASE ${name}${opts.template ? ` TEMPLATE ${opts.template}` : ''}`);
  return databaseUrl(serverUrl, name);
}

/** Drops database `name`, disconnecting whoever is still on it. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  if (!NAME.test(name)) throw new Error(`not a plain database name: ${JSON.stringify(name)}`);
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** The URL without its password, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Connects once: undefined when the server at `url` accepts the connection, else why it did not. */
export async function whyUnreachable(url: string, timeoutMs = 5000): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {}); // a backend that dies after connecting: not this probe's concern
  try {
    await client.connect();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}
