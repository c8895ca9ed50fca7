// The orders API in this process on a free port, over a test file's order stack (its database, store,
// Temporal client and task queue), with any dependency replaced.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApiApp, type ApiDeps } from '../../apps/orders/api/app';
import { createOrderStack, type OrderStack, type OrderStackOptions } from './order-stack';

export type RunningApi = { app: FastifyInstance; baseUrl: string; port: number };

export async function startApi(stack: OrderStack, deps: Partial<ApiDeps> = {}): Promise<RunningApi> {
  const app = buildApiApp({ pool: stack.db.pool, store: stack.store, temporal: { client: stack.client, taskQueue: stack.taskQueue }, ...deps });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, baseUrl: `http://127.0.0.1:${port}`, port };
}

/**
 * The test file's order stack with one worker and the API over it: created before its tests (with any
 * dependency of the API replaced by `deps`), closed after them, API first. The returned objects stand
 * for the stack and the API once they exist.
 */
export function useOrderApi(opts: OrderStackOptions & { deps?: (stack: OrderStack) => Partial<ApiDeps> } = {}): { stack: OrderStack; api: RunningApi } {
  let stack: OrderStack | undefined;
  let api: RunningApi | undefined;
  beforeAll(async () => {
    stack = await createOrderStack(opts);
    await stack.startWorker();
    api = await startApi(stack, opts.deps?.(stack));
  });
  afterAll(async () => {
    await api?.app.close();
    await stack?.stop();
  });
  return { stack: standIn(() => stack, 'order stack'), api: standIn(() => api, 'API') };
}

/** An object that forwards every property to what `get` returns, once it exists. */
function standIn<T extends object>(get: () => T | undefined, what: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      const target = get();
      if (!target) throw new Error(`the ${what} is used before beforeAll created it`);
      return target[property as keyof T];
    },
  });
}
