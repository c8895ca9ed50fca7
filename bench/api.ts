// `npm run bench:api`: what answering a replayed POST /v1/orders costs over an authenticated
// GET /v1/products on the same server, as a throughput ratio measured in one run (autocannon).
//
//   (a) replay    POST /v1/orders with the key and body of one stored order: bearer auth, key
//                 check, body validation, store lookup, the stored bytes sent back
//   (b) products  GET /v1/products: bearer auth, one catalog query
//
// Everything runs in this process except Postgres and Temporal: Postgres from DATABASE_URL (or the
// embedded default) with a fresh database, Temporal from TEMPORAL_ADDRESS (or a dev server), an
// in-process gateway and worker (the one stored order must complete), and the API on a free port.
// Each round runs (a) and (b) back to back, alternating which goes first, after one warm-up of each.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import autocannon from 'autocannon';
import { Command, InvalidArgumentError } from 'commander';
import type { Pool } from 'pg';
import { buildApiApp } from '../apps/orders/api/app';
import { loadConfig } from '../src/config';
import { createPool } from '../src/db/pool';
import { seedProducts } from '../apps/orders/domain/catalog';
import { createTenant } from '../apps/orders/domain/tenants';
import { buildGatewayApp } from '../apps/gateway/app';
import { createGatewayClient } from '../apps/gateway/client';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { createOrderWorker } from '../apps/worker/order-worker';
import { runBench, startBenchStack } from './harness';

const TARGET = 0.7;

type Options = { connections: number; duration: number; warmup: number; rounds: number; pipelining: number; workers: number };

function intIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

function parseOptions(): Options {
  return new Command('bench:api')
    .description('Throughput of replays of one stored POST /v1/orders over authenticated GET /v1/products, as a ratio from one run')
    .option('--connections <n>', 'concurrent HTTP connections for each workload', intIn(1, 1000), 10)
    .option('--duration <s>', 'measured seconds of each workload in each round', intIn(1, 600), 10)
    .option('--warmup <s>', 'unmeasured seconds of each workload before the first round (0: none)', intIn(0, 60), 2)
    .option('--rounds <n>', 'rounds; each runs both workloads, alternating which goes first', intIn(1, 20), 1)
    .option('--pipelining <n>', 'requests in flight per connection', intIn(1, 100), 1)
    .option('--workers <n>', 'autocannon worker threads (0: on the main thread, sharing it with the API)', intIn(0, 64), 0)
    .parse()
    .opts<Options>();
}

type Measured = { requests: number; seconds: number; non2xx: number; errors: number; latencyP50: number; latencyP99: number };

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const config = loadConfig();
  const log = (line: string): void => void process.stderr.write(`bench:api: ${line}\n`);
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  const stack = await startBenchStack('api', config, log);
  const { client, workerConnection } = stack;
  let pool: Pool | undefined;
  try {
    pool = createPool(stack.url, { max: config.poolMax });
    const db = pool;
    await seedProducts(db, 1_000_000);

    const gatewayApp = buildGatewayApp({ pool: db });
    await gatewayApp.listen({ host: '127.0.0.1', port: 0 });
    stack.defer(() => gatewayApp.close());
    const gatewayUrl = `http://127.0.0.1:${(gatewayApp.server.address() as AddressInfo).port}`;

    const taskQueue = `bench-api-${randomBytes(4).toString('hex')}`;
    const store = new IdempotencyStore(db, { ...config.idempotency });
    const worker = await createOrderWorker({
      connection: workerConnection,
      namespace: stack.namespace,
      taskQueue,
      deps: { pool: db, store, gateway: createGatewayClient({ baseUrl: gatewayUrl, timeoutMs: config.gateway.timeoutMs }), leaseMs: config.activityLeaseMs },
    });
    const workerDone = worker.run();
    stack.defer(async () => {
      worker.shutdown();
      await workerDone;
    });

    const app = buildApiApp({ pool: db, store, temporal: { client, taskQueue } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    stack.defer(() => app.close());
    const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const tenant = await createTenant(db, 'bench');
    const auth = `Bearer ${tenant.apiKey}`;
    const orderBody = JSON.stringify({
      items: [
        { sku: 'SKU-1', quantity: 1 },
        { sku: 'SKU-4', quantity: 2 },
      ],
      paymentToken: 'tok_visa',
    });
    const postHeaders = { authorization: auth, 'idempotency-key': 'bench-api-order-1', 'content-type': 'application/json' };
    const first = await fetch(`${baseUrl}/v1/orders`, { method: 'POST', headers: postHeaders, body: orderBody });
    const firstBody = await first.text();
    if (first.status !== 202) throw new Error(`the order to replay was answered ${first.status}: ${firstBody}`);
    // Let the saga finish so the worker is idle while we measure.
    await client.workflow.getHandle((JSON.parse(firstBody) as { workflowId: string }).workflowId).result();
    const replay = await fetch(`${baseUrl}/v1/orders`, { method: 'POST', headers: postHeaders, body: orderBody });
    if (replay.status !== 202 || replay.headers.get('idempotent-replayed') !== 'true' || (await replay.text()) !== firstBody) {
      throw new Error('the stored POST is not replayed byte for byte');
    }

    const workloads = {
      replay: { method: 'POST' as const, path: '/v1/orders', headers: postHeaders, body: orderBody },
      products: { method: 'GET' as const, path: '/v1/products', headers: { authorization: auth } },
    };
    type Name = keyof typeof workloads;
    const run = async (name: Name, seconds: number): Promise<Measured> => {
      const w = workloads[name];
      const result = await autocannon({
        url: baseUrl,
        connections: opts.connections,
        pipelining: opts.pipelining,
        // The load generator runs on worker threads, off the event loop the API serves on.
        ...(opts.workers > 0 && { workers: opts.workers }),
        duration: seconds,
        requests: [w],
      });
      return {
        requests: result.requests.total,
        seconds: result.duration,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        latencyP50: result.latency.p50,
        latencyP99: result.latency.p99,
      };
    };

    if (opts.warmup > 0) {
      log(`warm-up: ${opts.warmup} s each`);
      await run('replay', opts.warmup);
      await run('products', opts.warmup);
    }
    const totals: Record<Name, Measured[]> = { replay: [], products: [] };
    for (let round = 0; round < opts.rounds; round += 1) {
      const order: Name[] = round % 2 === 0 ? ['replay', 'products'] : ['products', 'replay'];
      for (const name of order) {
        log(`round ${round + 1}/${opts.rounds}: ${name}, ${opts.connections} connections, ${opts.duration} s`);
        totals[name].push(await run(name, opts.duration));
      }
    }
    const summary = (name: Name) => {
      const ms = totals[name];
      const requests = ms.reduce((s, m) => s + m.requests, 0);
      const seconds = ms.reduce((s, m) => s + m.seconds, 0);
      return {
        requests,
        rps: requests / seconds,
        non2xx: ms.reduce((s, m) => s + m.non2xx, 0),
        errors: ms.reduce((s, m) => s + m.errors, 0),
        p50: Math.max(...ms.map((m) => m.latencyP50)),
        p99: Math.max(...ms.map((m) => m.latencyP99)),
      };
    };
    const a = summary('replay');
    const b = summary('products');
    for (const [name, s] of [
      ['replay', a],
      ['products', b],
    ] as const) {
      if (s.non2xx > 0 || s.errors > 0) throw new Error(`${name}: ${s.non2xx} non-2xx answers and ${s.errors} errors; the ratio would be meaningless`);
    }
    // Still one order and one saga: the replays started nothing.
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    if (Number(rows[0]?.n) !== 1) throw new Error(`expected 1 order after the replays, found ${rows[0]?.n}`);

    const ratio = a.rps / b.rps;
    process.stdout.write(
      `${table(
        ['workload', 'requests', 'req/s', 'p50 ms', 'p99 ms'],
        [
          ['(a) replay POST /v1/orders', String(a.requests), a.rps.toFixed(0), String(a.p50), String(a.p99)],
          ['(b) GET /v1/products', String(b.requests), b.rps.toFixed(0), String(b.p50), String(b.p99)],
        ],
      )}\n\nreplay / products throughput: ${ratio.toFixed(3)} (target >= ${TARGET})\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        replayOverGet: Number(ratio.toFixed(3)),
        target: TARGET,
        met: ratio >= TARGET,
        replayRps: Math.round(a.rps),
        getRps: Math.round(b.rps),
        connections: opts.connections,
        durationSeconds: opts.duration,
        rounds: opts.rounds,
        pipelining: opts.pipelining,
        workers: opts.workers,
        ...stack.environment,
      })}\n`,
    );
  } finally {
    await stack.close();
    await pool?.end();
  }
}

runBench(main);
