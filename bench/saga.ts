// `npm run bench:saga`: sagas per second and p50/p99 end-to-end latency (workflow start -> result)
// at several concurrency levels, in one run, for five variants:
//
//   (a) shipped   workflows/placeOrder with the real activities (idempotency store, fenced lease on
//                 the charge) against the in-process gateway, token tok_visa, one item: its local steps
//                 as local activities, started eagerly on the worker of this process, the charge
//                 dispatched eagerly (the server's dynamic config, LATENCY_DYNAMIC_CONFIG)
//   (b) no-idem   bench/saga/workflows placeOrderNoIdempotency: the same saga shape and SQL effects in
//                 plain transactions, the gateway charge without the lease protocol, no store
//   (c) regular   bench/saga/workflows noopSaga: Temporal's regular path, the same number of activities
//                 (4), each a no-op regular activity, eager dispatch off, started the usual way
//   (d) http      POST /v1/orders with Prefer: wait=30 on the API in this process (the shipped saga):
//                 the synchronous answer, HTTP request to the 200 with the outcome
//   (e) classic   placeOrder in its classic shape (classicSteps: every step a regular activity), started
//                 the usual way: what (a) was before
//
// Postgres from DATABASE_URL (or the embedded default) with a fresh database created and dropped by
// the run; Temporal from TEMPORAL_ADDRESS (or a dev server). One in-process worker per variant, each
// on its own task queue. Each variant is warmed up; at each concurrency level the measured sagas are
// split into rounds that run the variants in a rotating order, so drift does not bias the ratios.
// Progress goes to stderr; stdout is the table and, as its last line, one JSON object.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Command, InvalidArgumentError } from 'commander';
import pino from 'pino';
import type { Pool } from 'pg';
import { UsageError } from '../src/cli/run-main';
import { PROJECT_ROOT, loadConfig } from '../src/config';
import { createPool } from '../src/db/pool';
import { seedProducts } from '../apps/orders/domain/catalog';
import { createTenant } from '../apps/orders/domain/tenants';
import { createGatewayClient } from '../apps/gateway/client';
import { startGateway } from '../apps/gateway/server';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { WORKFLOW_BUNDLER_OPTIONS, createOrderWorker } from '../apps/worker/order-worker';
import { createNoIdempotencyActivities, createNoopActivities } from './saga/activities';
import { renderThroughputSvg } from './saga/chart';
import { type CpuSample, NO_CPU, addCpu, cpuSince, sampleCpu, scaleCpu } from './saga/cpu';
import { runBench, startBenchStack } from './harness';
import { STARTS_RUNNING } from '../apps/worker/search-attributes';
import { ORDER_SAGA_SHAPE } from '../apps/orders/workflows/messages';

/** Each ratio's target: latency at most, the others at least. */
const TARGETS = { latencyOverRegularFloor: 0.35, throughputOverRegularFloor: 1.5, overNoIdempotency: 0.85 };
const VARIANTS = ['shipped', 'noIdempotency', 'regular', 'http', 'classic'] as const;
type Variant = (typeof VARIANTS)[number];
/**
 * Each variant's label and how one of its sagas starts: its workflow type, and whether eagerly on this
 * process's worker (over its connection) or the usual way through matching. (d) goes through the API.
 */
const SPECS: Record<Variant, { label: string; start?: { workflowType: string; eager: boolean } }> = {
  shipped: { label: '(a) shipped placeOrder', start: { workflowType: 'placeOrder', eager: true } },
  noIdempotency: { label: '(b) no idempotency layer', start: { workflowType: 'placeOrderNoIdempotency', eager: true } },
  regular: { label: '(c) regular path, no-op', start: { workflowType: 'noopSaga', eager: false } },
  http: { label: '(d) HTTP, Prefer: wait' },
  classic: { label: '(e) classic shape', start: { workflowType: 'placeOrder', eager: false } },
};

type Options = { concurrency: number[]; sagas: number; warmup: number; rounds: number; variants: Variant[] };

function intIn(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name}: expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

function variantList(value: string): Variant[] {
  const parts = value.split(',').map((p) => p.trim());
  const unknown = parts.filter((p) => !(VARIANTS as readonly string[]).includes(p));
  if (unknown.length > 0 || parts.length === 0) throw new InvalidArgumentError(`expected some of ${VARIANTS.join(', ')}, got "${value}"`);
  return VARIANTS.filter((v) => parts.includes(v));
}

function concurrencyList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError(`expected a comma-separated list of integers such as 1,4,16, got "${value}"`);
  }
  const levels = parts.map(intIn('each concurrency level', 1, 256));
  if (new Set(levels).size !== levels.length) throw new InvalidArgumentError(`concurrency levels must be distinct, got "${value}"`);
  return [...levels].sort((a, b) => a - b);
}

function parseOptions(): Options {
  const opts = new Command('bench:saga')
    .description(
      "Sagas per second and p50/p99 latency of the shipped order saga, without the idempotency layer, Temporal's regular path, over HTTP, and the classic shape",
    )
    .option('--concurrency <list>', 'comma-separated concurrency levels (sagas in flight)', concurrencyList, [1, 4, 16])
    .option('--sagas <n>', 'measured sagas per variant and concurrency level', intIn('--sagas', 1, 1_000_000), 200)
    .option('--warmup <n>', 'unmeasured sagas per variant before measuring (0: none)', intIn('--warmup', 0, 100_000), 20)
    .option('--rounds <n>', 'rounds per level; each runs every variant, in a rotating order', intIn('--rounds', 1, 100), 3)
    .option('--variants <list>', `comma-separated variants to run (default all: ${VARIANTS.join(',')}); a ratio needs both its variants`, variantList, [
      ...VARIANTS,
    ])
    .parse()
    .opts<Options>();
  if (opts.sagas < opts.rounds) throw new UsageError(`--sagas (${opts.sagas}) must be at least --rounds (${opts.rounds})`);
  return opts;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

type Batch = { latenciesMs: number[]; seconds: number; cpu: CpuSample };
export type LevelResult = {
  variant: Variant;
  concurrency: number;
  sagas: number;
  sagasPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU milliseconds per saga: this process (client, workers, gateway), the Temporal server, PostgreSQL. */
  cpuMsPerSaga: CpuSample;
};

async function main(): Promise<void> {
  const opts = parseOptions();
  const config = loadConfig();
  const log = (line: string): void => void process.stderr.write(`bench:saga: ${line}\n`);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const maxConcurrency = Math.max(...opts.concurrency);

  const stack = await startBenchStack('saga', config, log);
  const { client, eagerClient, workerConnection, namespace } = stack;
  const pools: Pool[] = [];
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping after the current batch and cleaning up (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  try {
    const poolSize = Math.max(config.poolMax, maxConcurrency + 4);
    const db = createPool(stack.url, { max: poolSize });
    const gatewayDb = createPool(stack.url, { max: poolSize });
    pools.push(db, gatewayDb);
    await seedProducts(db, 100_000_000);
    const { tenantId } = await createTenant(db, 'bench');

    const gateway = await startGateway({ pool: gatewayDb });
    stack.defer(() => gateway.close());
    const gatewayClient = createGatewayClient({ baseUrl: gateway.url, timeoutMs: config.gateway.timeoutMs });

    const runId = randomBytes(4).toString('hex');
    const taskQueues: Record<Exclude<Variant, 'http'>, string> = {
      shipped: `bench-saga-shipped-${runId}`,
      noIdempotency: `bench-saga-noidem-${runId}`,
      regular: `bench-saga-regular-${runId}`,
      classic: `bench-saga-shipped-${runId}`, // the shipped worker: the shape is chosen by the saga's input
    };
    log('bundling workflows');
    const benchBundle: WorkflowBundleWithSourceMap = await bundleWorkflowCode({
      workflowsPath: require.resolve('./saga/workflows'),
      ...WORKFLOW_BUNDLER_OPTIONS,
      logger: {
        trace: () => {},
        debug: () => {},
        info: () => {},
        log: () => {},
        warn: (m: string) => log(`bundler: ${m}`),
        error: (m: string) => log(`bundler: ${m}`),
      },
    });
    const store = new IdempotencyStore(db, { ...config.idempotency });
    const workers: Worker[] = [
      await createOrderWorker({
        connection: workerConnection,
        namespace,
        taskQueue: taskQueues.shipped,
        deps: { pool: db, store, gateway: gatewayClient, leaseMs: config.activityLeaseMs },
        tracing: 'off', // as the worker runs without OTEL_EXPORTER_OTLP_ENDPOINT (bundled here, untraced)
      }),
      await Worker.create({
        connection: workerConnection,
        namespace,
        taskQueue: taskQueues.noIdempotency,
        workflowBundle: benchBundle,
        activities: createNoIdempotencyActivities({ pool: db, gateway: gatewayClient }),
      }),
      await Worker.create({
        connection: workerConnection,
        namespace,
        taskQueue: taskQueues.regular,
        workflowBundle: benchBundle,
        activities: createNoopActivities(),
        maxEagerActivityReservationsPerWorkflowTask: 0, // the regular path: every activity through matching
      }),
    ];
    const running = workers.map((w) => w.run());
    stack.defer(async () => {
      for (const w of workers) w.shutdown();
      await Promise.allSettled(running);
    });

    // (d): the orders API in this process, its client on the workers' connection (npm start's wiring).
    const api = await stack.stack.api(
      { pool: db, store, temporal: { client: eagerClient, taskQueue: taskQueues.shipped, eagerStart: true }, logger: pino({ level: 'silent' }) },
      { host: '127.0.0.1', port: 0 },
    );
    const apiKey = (await createTenant(db, 'bench-http')).apiKey;
    const placeOverHttp = async (orderId: string, body: unknown): Promise<{ status?: string; reason?: string }> => {
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': orderId, prefer: 'wait=30', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 200) throw new Error(`http saga ${orderId}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { status?: string; reason?: string };
    };

    let serial = 0;
    const skus = ['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4', 'SKU-5', 'SKU-6', 'SKU-7', 'SKU-8', 'SKU-9', 'SKU-10', 'SKU-11', 'SKU-12'];
    const oneSaga = async (variant: Variant): Promise<number> => {
      serial += 1;
      const orderId = `bench-${runId}-${variant}-${serial}`;
      // One item; the SKU rotates so the sagas in flight do not all queue on one product row.
      const input = {
        orderId,
        tenantId,
        items: [{ sku: skus[serial % skus.length]!, quantity: 1 }],
        currency: 'EUR',
        paymentToken: 'tok_visa',
        shape: ORDER_SAGA_SHAPE,
      };
      const started = performance.now();
      let result: { status?: string; reason?: string };
      const start = SPECS[variant].start;
      if (variant === 'http' || !start) {
        result = await placeOverHttp(orderId, { items: input.items, paymentToken: input.paymentToken });
      } else {
        const handle = await (start.eager ? eagerClient : client).workflow.start(start.workflowType, {
          taskQueue: taskQueues[variant],
          workflowId: `wf-${orderId}`,
          ...(variant !== 'regular' && STARTS_RUNNING),
          args: [variant === 'classic' ? { ...input, options: { classicSteps: true } } : input],
          ...(start.eager && { requestEagerStart: true }),
        });
        result = (await handle.result()) as { status?: string; reason?: string };
      }
      const elapsed = performance.now() - started;
      if (result.status !== 'COMPLETED') throw new Error(`${variant} saga ${orderId} ended ${result.status ?? '?'}: ${result.reason ?? ''}`);
      return elapsed;
    };
    /** Closed loop: `concurrency` clients, each starting its next saga when the previous one returned. */
    const batch = async (variant: Variant, concurrency: number, count: number): Promise<Batch> => {
      const latenciesMs: number[] = [];
      let next = 0;
      const started = performance.now();
      const cpuBefore = sampleCpu();
      await Promise.all(
        Array.from({ length: Math.min(concurrency, count) }, async () => {
          while (next < count) {
            next += 1;
            latenciesMs.push(await oneSaga(variant));
          }
        }),
      );
      return { latenciesMs, seconds: (performance.now() - started) / 1000, cpu: cpuSince(cpuBefore) };
    };

    const variants = opts.variants;
    if (opts.warmup > 0) {
      for (const variant of variants) {
        log(`warm-up: ${opts.warmup} ${variant} sagas at concurrency ${maxConcurrency}`);
        await batch(variant, maxConcurrency, opts.warmup);
      }
    }

    const results: LevelResult[] = [];
    for (const concurrency of opts.concurrency) {
      const batches: Record<Variant, Batch[]> = { shipped: [], noIdempotency: [], regular: [], http: [], classic: [] };
      for (let round = 0; round < opts.rounds && !interrupted; round += 1) {
        const count = Math.floor(opts.sagas / opts.rounds) + (round < opts.sagas % opts.rounds ? 1 : 0);
        const order = variants.map((_, i) => variants[(i + round + concurrency) % variants.length]!);
        for (const variant of order) {
          if (interrupted) break;
          log(`concurrency ${concurrency}, round ${round + 1}/${opts.rounds}: ${count} ${variant} sagas`);
          batches[variant].push(await batch(variant, concurrency, count));
        }
      }
      if (interrupted) throw new Error('interrupted');
      for (const variant of variants) {
        const bs = batches[variant];
        const latencies = bs.flatMap((b) => b.latenciesMs).sort((x, y) => x - y);
        const seconds = bs.reduce((s, b) => s + b.seconds, 0);
        results.push({
          variant,
          concurrency,
          sagas: latencies.length,
          sagasPerSecond: latencies.length / seconds,
          p50Ms: quantile(latencies, 0.5),
          p99Ms: quantile(latencies, 0.99),
          cpuMsPerSaga: scaleCpu(
            bs.reduce((sum, b) => addCpu(sum, b.cpu), NO_CPU),
            1 / latencies.length,
          ),
        });
      }
    }

    // Every saga but the regular path's left one COMPLETED order with one captured payment.
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'COMPLETED' AND p.status = 'captured'`,
    );
    const expectedOrders = (opts.warmup + opts.sagas * opts.concurrency.length) * variants.filter((v) => v !== 'regular').length;
    if (Number(rows[0]?.n) !== expectedOrders) throw new Error(`expected ${expectedOrders} completed, paid orders; found ${rows[0]?.n}`);

    const found = (variant: Variant, concurrency: number): LevelResult | undefined =>
      results.find((r) => r.variant === variant && r.concurrency === concurrency);
    /** a's measure over b's at one level; NaN when either variant did not run (--variants). */
    const over = (a: Variant, b: Variant, concurrency: number, measure: 'sagasPerSecond' | 'p50Ms'): number => {
      const x = found(a, concurrency);
      const y = found(b, concurrency);
      return x && y ? x[measure] / y[measure] : NaN;
    };
    const ratios = (concurrency: number) => ({
      overNoIdempotency: over('shipped', 'noIdempotency', concurrency, 'sagasPerSecond'),
      throughputOverRegularFloor: over('shipped', 'regular', concurrency, 'sagasPerSecond'),
      latencyOverRegularFloor: over('shipped', 'regular', concurrency, 'p50Ms'),
    });
    const minConcurrency = Math.min(...opts.concurrency);
    const top = ratios(maxConcurrency);
    const latencyOverRegularFloor = ratios(minConcurrency).latencyOverRegularFloor;
    const cpuCell = (c: CpuSample): string => `${c.node.toFixed(1)} / ${c.temporal.toFixed(1)} / ${c.postgres.toFixed(1)}`;
    const rowsOut = results.map((r) => [
      String(r.concurrency),
      SPECS[r.variant].label,
      String(r.sagas),
      r.sagasPerSecond.toFixed(1),
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.variant === 'shipped' ? '1.00' : (over('shipped', r.variant, r.concurrency, 'sagasPerSecond') || NaN).toFixed(2),
      cpuCell(r.cpuMsPerSaga),
    ]);

    // The chart (committed under docs/) only from a run of every variant.
    if (variants.length === VARIANTS.length) {
      const svg = renderThroughputSvg(
        VARIANTS.map((v) => ({ label: SPECS[v].label, points: opts.concurrency.map((c) => ({ x: c, y: found(v, c)!.sagasPerSecond })) })),
        `Saga throughput vs concurrency (${os.cpus().length} CPUs, Node ${process.version})`,
      );
      const outPath = path.join(PROJECT_ROOT, 'bench', 'out', 'saga-throughput.svg');
      const docsPath = path.join(PROJECT_ROOT, 'docs', 'bench', 'saga-throughput.svg');
      for (const p of [outPath, docsPath]) {
        await mkdir(path.dirname(p), { recursive: true });
        await writeFile(p, svg);
      }
      log(`chart written to ${path.relative(PROJECT_ROOT, outPath)} and ${path.relative(PROJECT_ROOT, docsPath)}`);
    }

    const round3 = (n: number): number | null => (Number.isNaN(n) ? null : Number(n.toFixed(3)));
    const isMet = (name: keyof typeof TARGETS, value: number): boolean | null =>
      Number.isNaN(value) ? null : name === 'latencyOverRegularFloor' ? value <= TARGETS[name] : value >= TARGETS[name];
    const met = (name: keyof typeof TARGETS, value: number): string =>
      Number.isNaN(value)
        ? 'not measured (a variant it needs did not run)'
        : `${value.toFixed(3)} (target ${name === 'latencyOverRegularFloor' ? '<=' : '>='} ${TARGETS[name]}: ${isMet(name, value) ? 'met' : 'MISSED'})`;
    const shippedTop = found('shipped', maxConcurrency);
    const shippedLow = found('shipped', minConcurrency);
    process.stdout.write(
      `${stack.postgres === 'DATABASE_URL' ? 'PostgreSQL from DATABASE_URL' : 'embedded PostgreSQL'}, Temporal ${stack.temporal === 'dev-server' ? 'dev server' : 'TEMPORAL_ADDRESS'}, Node ${process.version}, ${os.cpus().length} CPUs; ` +
        `${opts.sagas} measured sagas per variant and level in ${opts.rounds} rotating rounds after ${opts.warmup} warm-up sagas per variant\n\n` +
        `${table(['conc', 'variant', 'sagas', 'sagas/s', 'p50 ms', 'p99 ms', '(a) / this', 'CPU ms/saga: this process / temporal / postgres'], rowsOut)}\n\n` +
        `latencyOverRegularFloor (p50, concurrency ${minConcurrency}): ${met('latencyOverRegularFloor', latencyOverRegularFloor)}\n` +
        `throughputOverRegularFloor at concurrency ${maxConcurrency}: ${met('throughputOverRegularFloor', top.throughputOverRegularFloor)}\n` +
        `overNoIdempotency at concurrency ${maxConcurrency}: ${met('overNoIdempotency', top.overNoIdempotency)}\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        sagasPerSecond: shippedTop ? round3(shippedTop.sagasPerSecond) : null,
        p50Ms: shippedLow ? round3(shippedLow.p50Ms) : null,
        latencyOverRegularFloor: round3(latencyOverRegularFloor),
        throughputOverRegularFloor: round3(top.throughputOverRegularFloor),
        overNoIdempotency: round3(top.overNoIdempotency),
        concurrency: maxConcurrency,
        targets: TARGETS,
        met: {
          latencyOverRegularFloor: isMet('latencyOverRegularFloor', latencyOverRegularFloor),
          throughputOverRegularFloor: isMet('throughputOverRegularFloor', top.throughputOverRegularFloor),
          overNoIdempotency: isMet('overNoIdempotency', top.overNoIdempotency),
        },
        byConcurrency: Object.fromEntries(
          opts.concurrency.map((c) => [
            String(c),
            {
              ...Object.fromEntries(Object.entries(ratios(c)).map(([k, v]) => [k, round3(v)])),
              ...Object.fromEntries(
                results
                  .filter((r) => r.concurrency === c)
                  .map((r) => [
                    r.variant,
                    {
                      sagasPerSecond: round3(r.sagasPerSecond),
                      p50Ms: round3(r.p50Ms),
                      p99Ms: round3(r.p99Ms),
                      sagas: r.sagas,
                      cpuMsPerSaga: Object.fromEntries(Object.entries(r.cpuMsPerSaga).map(([k, v]) => [k, round3(v)])),
                    },
                  ]),
              ),
            },
          ]),
        ),
        variants,
        sagas: opts.sagas,
        warmup: opts.warmup,
        rounds: opts.rounds,
        ...stack.environment,
      })}\n`,
    );
  } finally {
    process.off('SIGINT', onSigint);
    for (const p of pools) await p.end().catch(() => undefined);
    await stack.close();
  }
}

runBench(main);
