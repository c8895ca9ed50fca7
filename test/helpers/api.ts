// The orders API in this process on a free port, over a test file's order stack (its database, store,
// Temporal client and task queue), with any dependency replaced.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApiApp, type ApiDeps } from '../../apps/orders/api/app';
import type { OrderStack } from './order-stack';

export type RunningApi = { app: FastifyInstance; baseUrl: string; port: number };

export async function startApi(stack: OrderStack, deps: Partial<ApiDeps> = {}): Promise<RunningApi> {
  const app = buildApiApp({ pool: stack.db.pool, store: stack.store, temporal: { client: stack.client, taskQueue: stack.taskQueue }, ...deps });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, baseUrl: `http://127.0.0.1:${port}`, port };
}
