// Whole databases on a server: for runs that want one of their own (chaos runs, tests).
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

/** Creates database `name` (lower-case letters, digits, underscores) on the server of `serverUrl`; returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  if (!NAME.test(name)) throw new Error(`not a plain database name: ${JSON.stringify(name)}`);
  await onServer(serverUrl, `CREATE DATABASE ${name}`);
  return databaseUrl(serverUrl, name);
}

/** Drops database `name`, disconnecting whoever is still on it. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  if (!NAME.test(name)) throw new Error(`not a plain database name: ${JSON.stringify(name)}`);
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
