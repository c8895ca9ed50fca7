// The chaos run's services, each a separate OS process except Postgres (DATABASE_URL, or the embedded
// server in this process): a Temporal dev server persisted to a file, the payment gateway, N workers and
// the API; with events, NATS of the run's own, two outbox relays and two shipping consumers. The run gets a
// database of its own on that server, so its invariants see only its orders.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import pino from 'pino';
import { type Config, PROJECT_ROOT } from '../config';
import { seedProducts, setStock } from '../../apps/orders/domain/catalog';
import { createTenant } from '../../apps/orders/domain/tenants';
import type { FaultConfigInput } from '../../apps/gateway/faults';
import { writeWorkflowBundle } from '../../apps/worker/order-worker';
import { SEARCH_ATTRIBUTES } from '../../apps/worker/search-attributes';
import type { StackDatabase } from '../stack/stack';
import { Stack } from '../stack/stack';
import { LATENCY_DYNAMIC_CONFIG } from '../temporal/dev-server';
import { untilTemporalAnswers } from '../temporal/connection';
import { dynamicConfigArgs } from 'idempotent-sagas/testing';
import type { ChildSpec, SupervisedChild } from '../stack/child-process';
import { installDeletionWitness } from './deletion-witness';
import { dropNaturalKeys } from './natural-keys';
import type { KilledTemporalService } from './mayhem';

/** Our own connections carry this name, so terminating backends spares the harness. */
export const HARNESS_APPLICATION_NAME = 'chaos-harness';
/** Short leases: a compensation waiting out a killed worker's claim does not wait long. */
const LEASE_MS = 3000;
/** With events: the broker forgets an event ID after this long, so a relay re-publishing after a kill reaches the inboxes. */
const EVENTS_DUPLICATE_WINDOW_S = 2;
/** With events: an unacknowledged event comes back after this long (a killed consumer's). */
const EVENTS_ACK_WAIT_S = 5;
/** The gateway holds an "apply then time out" answer this long; workers give up sooner and retry by key. */
const GATEWAY_HANG_MS = 5000;
const GATEWAY_CLIENT_TIMEOUT_MS = 2000;
const NAMESPACE = 'default';

export type ChaosStack = {
  runId: string;
  runDir: string;
  database: { name: string; url: string; source: StackDatabase['source'] };
  pool: Pool;
  /** The dev server, or the cluster's frontend, history and matching processes by kind. */
  temporal: SupervisedChild | Record<KilledTemporalService, SupervisedChild[]>;
  temporalAddress: string;
  taskQueue: string;
  gateway: SupervisedChild;
  gatewayUrl: string;
  workers: SupervisedChild[];
  api: SupervisedChild;
  apiUrl: string;
  apiKey: string;
  /** With events: the broker, the relays and the shipping consumers. */
  events: ChaosEvents | undefined;
  /** Every child, in start order. */
  children(): SupervisedChild[];
  /** Stops every process (newest first) and, when `dropData`, drops the run database and the Temporal file. */
  close(dropData: boolean): Promise<void>;
};

export async function startChaosStack(opts: {
  config: Config;
  runId: string;
  workers: number;
  stock: Record<string, number>;
  gatewayFaults: FaultConfigInput;
  /** Retention of step records (from their saga's close) for the workers and the API; undefined = their default. */
  stepTtlS?: number | undefined;
  /** false: the run's database has no natural-key constraints (a store failure becomes a duplicate row). */
  naturalKeys?: boolean;
  /** The gateway ignores Idempotency-Key (and loses its unique key); workers charge at most once. */
  providerIgnoresKeys?: boolean;
  /** Sagas go COMPENSATION_STUCK after a short round (the harness acts as their operator). */
  shortStuckRounds?: boolean;
  /** A dev server persisted to a file (default), or a cluster of service processes on the run's Postgres. */
  temporal?: 'dev' | 'cluster';
  /** NATS of the run's own, two relays and two shipping consumers. */
  events?: boolean;
  say: (line: string) => void;
  onUnexpectedExit: (child: SupervisedChild) => void;
}): Promise<ChaosStack> {
  const { config, runId, say } = opts;
  const runDir = path.join(PROJECT_ROOT, '.data', 'chaos', runId);
  let dropData = false;
  // The harness's own logger stays quiet: its services log to their files, and progress goes to `say`.
  return new Stack(config, pino({ level: 'silent' }), say).build(async (stack) => {
    const dbName = `chaos_${runId.replace(/[^a-z0-9]/g, '_')}`;
    const db = await stack.database({ own: { name: dbName, drop: () => dropData }, poolMax: 5, applicationName: HARNESS_APPLICATION_NAME });
    const { pool, url } = db;
    await installDeletionWitness(pool);
    if (opts.naturalKeys === false) {
      await dropNaturalKeys(pool);
      say('natural keys off: reservations, payments, orders.workflow_id and the ledger have no unique constraints in this run');
    }
    if (opts.providerIgnoresKeys) {
      // The gateway's own second line of defence goes too: a charge applied twice under one key is then a visible row.
      await pool.query('ALTER TABLE gateway_charges DROP CONSTRAINT gateway_charges_idempotency_key_key');
      say('provider ignores keys: the gateway applies every charge request; workers charge at most once');
    }
    await seedProducts(pool, 0);
    for (const [sku, units] of Object.entries(opts.stock)) await setStock(pool, sku, units);
    const { apiKey } = await createTenant(pool, `chaos ${runId}`);

    mkdirSync(runDir, { recursive: true });
    const bundlePath = path.join(runDir, 'workflows.js');
    await writeWorkflowBundle(bundlePath);

    // TEMPORAL_ADDRESS does not help here: the harness must kill and restart a Temporal of its own.
    const [devServerPort, gatewayPort, apiPort] = await freePorts(3);
    const taskQueue = `chaos-${runId}`;
    const started: SupervisedChild[] = [];
    const child = (spec: ChildSpec): SupervisedChild => {
      const c = stack.process(spec, opts.onUnexpectedExit);
      started.push(c);
      return c;
    };
    const node = (name: string, script: string, readyText: string, env: Record<string, string>): SupervisedChild =>
      child({
        name,
        command: process.execPath,
        // `node --import tsx`, not the tsx wrapper: SIGKILL must reach the service itself.
        args: ['--import', 'tsx', path.join(PROJECT_ROOT, script)],
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', DATABASE_URL: url, ...env },
        readyText,
        logFile: path.join(runDir, `${name}.log`),
      });

    let temporal: ChaosStack['temporal'];
    let temporalAddress: string;
    if (opts.temporal === 'cluster') {
      const cluster = await stack.cluster({ databasePrefix: `${dbName}_temporal`, drop: () => dropData, onUnexpectedExit: opts.onUnexpectedExit });
      started.push(...cluster.members.map((m) => m.child));
      temporalAddress = cluster.address;
      const of = (service: KilledTemporalService) => cluster.members.filter((m) => m.service === service).map((m) => m.child);
      temporal = { frontend: of('frontend'), history: of('history'), matching: of('matching') };
    } else {
      temporalAddress = `127.0.0.1:${devServerPort}`;
      temporal = await startDevServerChild();
    }

    async function startDevServerChild(): Promise<SupervisedChild> {
      const cli = stack.temporalCli('npm run chaos runs (and restarts) a Temporal dev server of its own and');
      const temporalFile = path.join(runDir, 'temporal.db');
      stack.defer('the Temporal file', async () => {
        if (dropData) for (const file of [temporalFile, bundlePath]) rmSync(file, { force: true });
      });
      const devServer = child({
        name: 'temporal',
        command: cli,
        args: [
          'server',
          'start-dev',
          '--headless',
          '--ip',
          '127.0.0.1',
          '--port',
          String(devServerPort),
          '--db-filename',
          temporalFile,
          '--namespace',
          NAMESPACE,
          '--log-level',
          'error',
          ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=Keyword`]),
          ...dynamicConfigArgs(LATENCY_DYNAMIC_CONFIG),
        ],
        cwd: runDir,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
        readyText: 'Server:',
        logFile: path.join(runDir, 'temporal.log'),
        serving: () => temporalAnswers(temporalAddress),
      });
      await devServer.start();
      say(`temporal: dev server at ${temporalAddress}, persisted to ${path.relative(PROJECT_ROOT, temporalFile)}`);
      return devServer;
    }

    const gateway = node('gateway', 'apps/gateway/main.ts', 'payment gateway listening', {
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_FAULTS: JSON.stringify({ ...opts.gatewayFaults, hangMs: GATEWAY_HANG_MS, ...(opts.providerIgnoresKeys && { ignoreIdempotencyKeys: true }) }),
      LOG_LEVEL: 'info',
    });
    const serviceEnv = {
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...(opts.stepTtlS !== undefined && { IDEMPOTENCY_SCOPE_TTLS: `step=${opts.stepTtlS}` }),
    };
    const workers = Array.from({ length: opts.workers }, (_, i) =>
      node(`worker-${i + 1}`, 'apps/worker/main.ts', 'worker ready', {
        ...serviceEnv,
        GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
        GATEWAY_TIMEOUT_MS: String(GATEWAY_CLIENT_TIMEOUT_MS),
        ACTIVITY_LEASE_MS: String(LEASE_MS),
        WORKFLOW_BUNDLE_PATH: bundlePath,
        ...(opts.providerIgnoresKeys && { CHARGE_STEP_KIND: 'at-most-once' }),
        PG_POOL_MAX: '10',
      }),
    );
    const api = node('api', 'apps/orders/api/main.ts', 'api ready', {
      ...serviceEnv,
      PORT: String(apiPort),
      PG_POOL_MAX: '10',
      // A refund outage should park sagas for the operator: rounds of 5 attempts (about 3 s), and no retry by itself for 10 minutes.
      ...(opts.shortStuckRounds && { SAGA_STUCK_AFTER_ATTEMPTS: '5', SAGA_STUCK_RETRY_INTERVAL_SECONDS: '600' }),
    });
    await Promise.all([gateway.start(), api.start(), ...workers.map((w) => w.start())]);
    say(`gateway, api and ${workers.length} workers started (logs in ${path.relative(PROJECT_ROOT, runDir)})`);

    let events: ChaosEvents | undefined;
    if (opts.events) {
      const nats = await stack.nats({ own: true, name: `chaos-${runId}`, drop: () => dropData, onUnexpectedExit: opts.onUnexpectedExit });
      if (!nats.child) throw new Error("a NATS of the run's own has a process");
      started.push(nats.child);
      const eventsEnv = {
        NATS_URL: nats.url,
        EVENTS_DUPLICATE_WINDOW_SECONDS: String(EVENTS_DUPLICATE_WINDOW_S),
        CONSUMER_ACK_WAIT_SECONDS: String(EVENTS_ACK_WAIT_S),
        RELAY_POLL_INTERVAL_MS: '100',
        PG_POOL_MAX: '4',
      };
      const relays = [1, 2].map((i) => node(`relay-${i}`, 'apps/events/relay-main.ts', 'outbox relay ready', eventsEnv));
      const consumers = [1, 2].map((i) => node(`consumer-${i}`, 'apps/shipping/main.ts', 'shipping consumer ready', eventsEnv));
      await Promise.all([...relays, ...consumers].map((c) => c.start()));
      events = { nats: nats.child, natsUrl: nats.url, relays, consumers };
      say(`events: NATS at ${nats.url}, 2 outbox relays and 2 shipping consumers started`);
    }

    return {
      runId,
      runDir,
      database: { name: dbName, url, source: db.source },
      pool,
      temporal,
      temporalAddress,
      taskQueue,
      gateway,
      gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
      workers,
      api,
      apiUrl: `http://127.0.0.1:${apiPort}`,
      apiKey,
      events,
      children: () => [...started],
      close: async (drop: boolean) => {
        dropData = drop;
        await stack.close();
      },
    };
  });
}

export type ChaosEvents = { nats: SupervisedChild; natsUrl: string; relays: SupervisedChild[]; consumers: SupervisedChild[] };

/** Resolves once the dev server answers a call (its banner comes before it serves). */
function temporalAnswers(address: string): Promise<void> {
  return untilTemporalAnswers(address, (connection) => connection.workflowService.getSystemInfo({}), {
    timeoutMs: 30_000,
    intervalMs: 250,
    failure: (why) => new Error(`the Temporal dev server at ${address} does not answer: ${why}`),
  });
}

export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
