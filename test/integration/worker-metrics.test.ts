// The worker's /metrics after a run with a duplicate delivery and a lease takeover: the store's
// counters carry their scope; /readyz of the worker and of the API answers 503 while Postgres is
// unreachable and 200 once it is back; and the real worker process serves them on WORKER_HTTP_PORT.
import net from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { createActivities } from '../../apps/worker/activities';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { buildApiApp } from '../../apps/orders/api/app';
import { buildWorkerServer } from '../../src/observability/worker-server';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { freePort, ROOT } from '../helpers/processes';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { waitFor } from '../helpers/wait';

/** A TCP proxy to Postgres that the test can take down (every connection cut, new ones refused) and bring back. */
async function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const port = await freePort();
  let server: net.Server | undefined;
  const up = (): Promise<void> =>
    new Promise((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await up();
  return { port, up, down };
}

let stack: OrderStack;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let proxiedPool: Pool;

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100, leaseMs: 2000 });
  await stack.startWorker();
  const url = new URL(stack.db.url);
  proxy = await startProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  proxiedPool = new Pool({ connectionString: url.toString(), max: 2, connectionTimeoutMillis: 1000 });
  proxiedPool.on('error', () => {}); // idle clients cut by the proxy
});
afterAll(async () => {
  await proxiedPool?.end();
  await proxy?.down();
  await stack?.stop();
});

test('after a lease takeover and a duplicate delivery, /metrics has the store counters by scope; /readyz of the worker and the API follows Postgres', async () => {
  const app = buildWorkerServer({
    pool: proxiedPool,
    counters: stack.store.counters,
    pingTemporal: () => stack.client.workflowService.getSystemInfo({}),
    checkTimeoutMs: 1500,
  });
  const api = buildApiApp({
    pool: proxiedPool,
    store: new IdempotencyStore(proxiedPool, { defaultTtlSeconds: 60 }),
    temporal: { client: stack.client, taskQueue: stack.taskQueue },
  });
  const [address, apiAddress] = [await app.listen({ port: 0, host: '127.0.0.1' }), await api.listen({ port: 0, host: '127.0.0.1' })];
  const get = async (url: string, base = address): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${base}${url}`);
    return { status: res.status, text: await res.text() };
  };
  const readyOf = async (base: string): Promise<{ status: number; body: unknown }> => {
    const res = await get('/readyz', base);
    return { status: res.status, body: JSON.parse(res.text) as unknown };
  };
  try {
    // The charge applies and its reply is lost: the retry takes the released lease over (a takeover in scope `step`).
    const { result } = await stack.placeOrder({ orderId: 'metrics-1', paymentToken: 'tok_apply_timeout_1', items: [{ sku: 'SKU-1', quantity: 1 }] });
    expect(result.status).toBe('COMPLETED');
    // Temporal delivers a finished activity again (a worker that died before reporting): the store replays it.
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'order-metrics-1', runId: 'r' } });
    const again = await env.run(createActivities(stack.deps).reserveStock, {
      key: 'order-metrics-1/reserve:SKU-1',
      orderId: 'metrics-1',
      sku: 'SKU-1',
      quantity: 1,
    });
    expect(again).toEqual({ sku: 'SKU-1', quantity: 1 });

    const { text } = await get('/metrics');
    const value = (series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('idempotency_store_events_total{event="leaseTakeovers",scope="step"}')).toBeGreaterThanOrEqual(1);
    expect(value('idempotency_store_events_total{event="replays",scope="step"}')).toBeGreaterThanOrEqual(1);
    expect(value('idempotency_store_events_total{event="executions",scope="step"}')).toBeGreaterThanOrEqual(4);
    expect(text).not.toMatch(/scope="http"/); // a worker's store sees saga steps only
    expect(value('orders_by_status{status="COMPLETED"}')).toBe(await stack.count(`SELECT count(*) AS n FROM orders WHERE status = 'COMPLETED'`));
    expect(value('sagas_compensation_stuck')).toBe(0);
    expect(text).toMatch(/^# TYPE idempotency_store_events_total counter$/m);

    for (const base of [address, apiAddress])
      expect(await readyOf(base)).toEqual({ status: 200, body: { status: 'ready', checks: { database: 'ok', temporal: 'ok' } } });
    await proxy.down();
    for (const base of [address, apiAddress]) {
      expect(await readyOf(base)).toEqual({
        status: 503,
        body: { status: 'unavailable', checks: { database: expect.stringMatching(/^down: /) as string, temporal: 'ok' } },
      });
      expect((await get('/healthz', base)).status).toBe(200); // alive, only not ready
    }
    await proxy.up();
    for (const base of [address, apiAddress]) await waitFor(async () => (await readyOf(base)).status === 200, `${base}/readyz to answer 200 again`);
  } finally {
    await app.close();
    await api.close();
  }
}, 90_000);

test("the worker process serves /readyz and /metrics (ours, then the SDK's) on WORKER_HTTP_PORT and logs JSON", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'apps/worker/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'info',
      DATABASE_URL: stack.db.url,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_TASK_QUEUE: `${stack.taskQueue}-proc`,
      WORKER_HTTP_PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) === 200,
      'the worker to be ready',
      60_000,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^# TYPE idempotency_store_events_total counter$/m);
    expect(metrics).toMatch(/^# TYPE sagas_compensation_stuck gauge$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    // The Temporal SDK's own metrics follow ours, in Prometheus naming (_total counters).
    expect(metrics).toMatch(new RegExp(`^temporal_worker_start_total\\{[^}]*task_queue="${stack.taskQueue}-proc"[^}]*\\} 1$`, 'm'));
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
  // Every log line is pino JSON (the SDK's lines included), and the worker said where it serves.
  const lines = stderr.split('\n').filter((l) => l.trim());
  expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
  expect(lines.map((l) => JSON.parse(l) as { msg?: string; http?: string })).toContainEqual(
    expect.objectContaining({ msg: 'worker ready', http: `http://127.0.0.1:${port}` }),
  );
}, 120_000);
