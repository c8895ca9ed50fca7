// Transactions on one checked-out client, and two statements in one round trip on a pipelined one.
import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` on one checked-out client. If `fn` throws, any open transaction is rolled back;
 * a client whose connection broke is destroyed instead of going back to the pool.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A backend that dies mid-query also emits 'error' on the client; the awaited query reports it.
  const swallow = (): void => {};
  client.on('error', swallow);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    client.off('error', swallow);
    client.release(broken);
  }
}

/** Runs `fn` inside BEGIN/COMMIT on one client; any throw rolls back. */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    const value = await fn(client);
    await client.query('COMMIT');
    return value;
  });
}

/**
 * Sends `first` and then `second` on one client without waiting for `first`'s answer when the
 * client is pipelined (one round trip instead of two), one after the other otherwise. The server
 * runs them in order, each under its own Sync, so on a pipelined client `second` runs even when
 * `first` failed; without pipelining it is then not sent, and reports `first`'s failure. Returns
 * both outcomes, settled: no rejection goes unhandled, and the caller sees which one failed.
 */
export async function sendInOrder<A, B>(
  client: PoolClient,
  first: () => Promise<A>,
  second: () => Promise<B>,
): Promise<[PromiseSettledResult<A>, PromiseSettledResult<B>]> {
  // Async wrappers turn a synchronous throw into a rejection, so nothing already sent goes unawaited.
  const send = <T>(query: () => Promise<T>): Promise<T> => (async () => query())();
  if (client.pipeline) {
    const stream = socketOf(client);
    stream?.cork();
    try {
      return Promise.allSettled([send(first), send(second)]);
    } finally {
      stream?.uncork();
    }
  }
  const [a] = await Promise.allSettled([send(first)]);
  if (a.status === 'rejected') return [a, a];
  const [b] = await Promise.allSettled([send(second)]);
  return [a, b];
}

/** Both values, or the first failure in statement order. */
export function bothOrThrow<A, B>([a, b]: [PromiseSettledResult<A>, PromiseSettledResult<B>]): [A, B] {
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/** The client's socket when node-postgres exposes it (`connection.stream`), to write two statements in one write. */
function socketOf(client: PoolClient): { cork(): void; uncork(): void } | undefined {
  const stream = (client as { connection?: { stream?: { cork?: unknown; uncork?: unknown } } }).connection?.stream;
  return typeof stream?.cork === 'function' && typeof stream.uncork === 'function' ? (stream as { cork(): void; uncork(): void }) : undefined;
}
