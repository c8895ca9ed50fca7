// Client and worker connections to Temporal, and the search attributes our workflows publish.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { StartupError } from '../errors';
import { SEARCH_ATTRIBUTES } from './search-attributes';

/** Why a connection failed, as one line naming the setting. */
function unreachable(address: string, err: unknown): StartupError {
  return new StartupError(`cannot reach Temporal at TEMPORAL_ADDRESS=${address}: ${err instanceof Error ? err.message : String(err)}`);
}

export async function connectClient(address: string, namespace: string): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address }).catch((err: unknown) => {
    throw unreachable(address, err);
  });
  return { client: new Client({ connection, namespace }), connection };
}

export function connectWorker(address: string): Promise<NativeConnection> {
  return NativeConnection.connect({ address }).catch((err: unknown) => {
    throw unreachable(address, err);
  });
}

/** Registers our search attributes on a server we did not start (the dev server registers them at start). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const known = { ...listed.customAttributes, ...listed.systemAttributes };
  const missing = SEARCH_ATTRIBUTES.filter((a) => !(a.name in known));
  if (missing.length === 0) return;
  const typeEnum = { KEYWORD: 2, TEXT: 1, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 } as const;
  await connection.operatorService
    .addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((a) => [a.name, typeEnum[a.type as keyof typeof typeEnum]])),
    })
    .catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS: another process registered them first
    });
}
