// The one stack builder: every way of running the order stack (npm start, the demo, chaos, the
// benchmarks and the tests) assembles it here, part by part. Each part it starts is closed by close(),
// newest first, each close bounded in time. What differs between them is only which parts, and where
// they run: in this process, or (chaos) as separate processes it can kill.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import type { NativeConnection, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { createDatabase, dropDatabase, findTemporalCli, installTemporalCli, TemporalUnavailableError } from 'idempotent-sagas/testing';
import { buildApiApp, type ApiDeps } from '../../apps/orders/api/app';
import { GATEWAY_MIGRATIONS } from '../../apps/gateway/schema';
import { consumerSettings, relaySettings } from '../../apps/events/service';
import { OutboxRelay, type RelayOptions } from '../../apps/events/relay';
import { ShippingConsumer, type ShippingConsumerOptions } from '../../apps/shipping/consumer';
import { SHIPPING_MIGRATIONS } from '../../apps/shipping/schema';
import { type RunningGateway, startGateway } from '../../apps/gateway/server';
import type { GatewayAppOptions } from '../../apps/gateway/app';
import type { ActivityDeps } from '../../apps/worker/activities';
import { createOrderWorker } from '../../apps/worker/order-worker';
import type { Tracing } from '../observability/tracing';
import { type ChildSpec, SupervisedChild } from './child-process';
import { type Config, PROJECT_ROOT } from '../config';
import { StartupError } from '../errors';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { type ProvisionedDatabase, provisionDatabase } from '../db/provision';
import type { Logger } from '../logger';
import { connectClient, connectWorker, ensureSearchAttributes, untilTemporalAnswers } from '../temporal/connection';
import { startDevServer } from '../temporal/dev-server';
import { type ClusterMember, findClusterBinaries, prepareCluster } from '../temporal/cluster';
import {
  HOW_TO_GET_NATS,
  LOCAL_NATS_URL,
  NatsUnavailableError,
  findNatsServer,
  installNatsServer,
  natsAnswers,
  natsProblem,
  natsServerSpec,
  redactNatsUrl,
} from '../events/nats-server';

/** How long each part may take to close before close() goes on without it. */
const CLOSE_TIMEOUT_MS = 5000;
/** A worker's in-flight tasks get this long to finish at close. */
const WORKER_SHUTDOWN_MS = 15_000;
/** A process gets this long between SIGTERM and SIGKILL. */
const CHILD_STOP_GRACE_MS = 5000;

export type StackDatabase = {
  /** The database the stack uses (migrated: the app's, the store's and the gateway's tables). */
  url: string;
  pool: Pool;
  /** Where its server came from. */
  source: 'DATABASE_URL' | 'embedded';
  /** Its name when it is a database of the stack's own (created on that server); undefined for the configured one. */
  name: string | undefined;
  /** Runs a `SELECT count(*) AS n …` and returns n: for counting effects. */
  count(sql: string, params?: unknown[]): Promise<number>;
};

export type StackTemporal = {
  address: string;
  namespace: string;
  source: 'TEMPORAL_ADDRESS' | 'dev server' | 'cluster';
  uiUrl: string | undefined;
  client: Client;
  connection: Connection;
  workerConnection: NativeConnection;
  /** A client on the workers' connection: what it starts with `requestEagerStart` begins on a worker of this process. */
  eagerClient: Client;
};

export type StackNats = {
  /** Where clients connect: nats://host:port (NATS_URL as given). */
  url: string;
  /** Where it came from: NATS_URL, the server already running at 127.0.0.1:4222, or a nats-server the stack started. */
  source: 'NATS_URL' | 'local server' | 'nats-server';
  /** The server's process when the stack started it (chaos kills and restarts it); undefined otherwise. */
  child: SupervisedChild | undefined;
};

export type NatsOptions = {
  /** Always start a server of the stack's own, even with NATS_URL set or a server at 127.0.0.1:4222 (a test or chaos that restarts it). */
  own?: boolean;
  /** Its directory under .data/nats/ (JetStream store and log); default a fresh random name. */
  name?: string;
  /** Asked at close, after the server stopped: delete its directory? Default: yes for a random name, no for a given one. */
  drop?: () => boolean;
  /** Called when the server exits without being asked (see SupervisedChild). */
  onUnexpectedExit?: (child: SupervisedChild) => void;
};

export type DatabaseOptions = {
  /** A new database of the stack's own on the configured server (default: the configured database itself). */
  own?: {
    name: string;
    /** Copy this already migrated database instead of migrating the new one. */
    template?: string;
    /** Asked at close: drop the database? Default yes. */
    drop?: () => boolean;
  };
  poolMax?: number;
  /** The pool's connections carry this application_name. */
  applicationName?: string;
};

export class Stack {
  readonly #closers: Array<{ what: string; close: () => Promise<unknown>; timeoutMs: number }> = [];
  readonly #say: (line: string) => void;
  #postgres: Promise<ProvisionedDatabase> | undefined;
  #nats: Promise<StackNats> | undefined;

  constructor(
    readonly config: Config,
    private readonly logger: Logger,
    say: (line: string) => void = () => {},
  ) {
    this.#say = say;
  }

  /** Runs `close` at close(), before everything registered earlier, for at most `timeoutMs`. */
  defer(what: string, close: () => Promise<unknown>, timeoutMs = CLOSE_TIMEOUT_MS): void {
    this.#closers.push({ what, close, timeoutMs });
  }

  /** Closes every part, newest first, each bounded by a timeout. Never throws. */
  async close(): Promise<void> {
    for (const c of this.#closers.splice(0).reverse()) {
      // Bounded: with Postgres or Temporal gone (Ctrl-C in a terminal stops them too), a close may never
      // settle. The timer also keeps the event loop alive, so the process cannot drain and exit early.
      let timer: NodeJS.Timeout | undefined;
      try {
        const outcome = await Promise.race([
          c.close().then(() => 'closed' as const),
          new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), c.timeoutMs))),
        ]);
        if (outcome === 'timed out') this.logger.warn(`closing ${c.what} took over ${c.timeoutMs} ms; going on`);
      } catch (err) {
        this.logger.warn({ err: messageOf(err) }, `closing ${c.what} failed`);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** Builds with `build`; if it fails, closes what it started and rethrows. */
  async build<T>(build: (stack: this) => Promise<T>): Promise<T> {
    try {
      return await build(this);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Postgres (DATABASE_URL, or the embedded server), migrated, with a pool. */
  /** The Postgres server (DATABASE_URL, or the embedded one started once): what every database of the stack lives on. */
  postgresServer(): Promise<ProvisionedDatabase> {
    const { config, logger } = this;
    this.#postgres ??= provisionDatabase(config, (line) => logger.trace({ postgres: line.trimEnd() }, 'embedded postgres')).then(
      (server) => {
        this.defer('postgres', () => server.stop());
        return server;
      },
      (err: unknown) => {
        if (err instanceof StartupError || !config.databaseUrl) throw err; // both explain themselves
        throw new StartupError(`cannot use the database at DATABASE_URL: ${messageOf(err)}`);
      },
    );
    return this.#postgres;
  }

  async database(opts: DatabaseOptions = {}): Promise<StackDatabase> {
    const { config, logger } = this;
    const server = await this.postgresServer();
    const where = server.source === 'embedded' ? 'the embedded PostgreSQL' : 'the server at DATABASE_URL';
    let url = server.url;
    if (opts.own) {
      const { name, template, drop } = opts.own;
      url = await createDatabase(server.url, name, { ...(template && { template }) }).catch((err: unknown) => {
        throw new StartupError(`cannot create the database ${name} on ${where}: ${messageOf(err)}`);
      });
      this.defer(`the database ${name}`, async () => {
        if (drop?.() ?? true) await dropDatabase(server.url, name);
      });
    }
    if (!opts.own?.template) {
      const log = (msg: string): void => logger.debug(msg);
      const applied = [...(await migrate(url, log)), ...(await migrate(url, log, GATEWAY_MIGRATIONS)), ...(await migrate(url, log, SHIPPING_MIGRATIONS))];
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }
    const pool = createPool(url, {
      max: opts.poolMax ?? config.poolMax,
      ...(opts.applicationName && { applicationName: opts.applicationName }),
      onIdleError: (err) => logger.warn({ err: err.message }, 'idle postgres client failed; the pool replaces it'),
    });
    this.defer('the pool', () => pool.end());
    this.#say(`postgres: ${server.source === 'embedded' ? 'embedded' : 'DATABASE_URL'}${opts.own ? `, database ${opts.own.name}` : ''}`);
    return {
      url,
      pool,
      source: server.source,
      name: opts.own?.name,
      count: async (sql, params) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0),
    };
  }

  /** Temporal: `address` (default TEMPORAL_ADDRESS), or a dev server started here (with its UI when `ui`); client and worker connections. */
  async temporal(opts: { ui?: boolean; address?: string; cluster?: ClusterOptions } = {}): Promise<StackTemporal> {
    const { config, logger } = this;
    const { namespace } = config.temporal;
    let address = opts.address ?? config.temporal.address;
    let uiUrl: string | undefined;
    const source = address ? ('TEMPORAL_ADDRESS' as const) : config.temporal.mode === 'cluster' ? ('cluster' as const) : ('dev server' as const);
    if (address) {
      const host = address.slice(0, address.lastIndexOf(':'));
      uiUrl = opts.ui && config.temporal.uiPort !== undefined ? `http://${host}:${config.temporal.uiPort}` : undefined;
      this.#say(`temporal: ${address}${opts.address ? '' : ' (TEMPORAL_ADDRESS)'}${uiUrl ? `, UI at ${uiUrl}` : ''}`);
    } else if (config.temporal.mode === 'cluster') {
      address = (await this.cluster(opts.cluster)).address;
    } else {
      this.#say(`temporal: starting a dev server${opts.ui ? ' with its UI' : ''}…`);
      const server = await startDevServer({
        cliPath: config.temporal.cliPath,
        namespace,
        ui: opts.ui ?? false,
        ...(opts.ui && { uiPort: config.temporal.uiPort }),
        log: (line) => logger.info(line),
      });
      this.defer('temporal', () => server.stop());
      address = server.address;
      uiUrl = server.uiUrl;
      this.#say(`temporal: dev server at ${address}${uiUrl ? `, UI at ${uiUrl}` : ''}`);
    }
    const { client, connection } = await connectClient(address, namespace);
    this.defer('the temporal client', () => connection.close());
    // A dev server registers them at start, and the cluster when it registers the namespace.
    if (source === 'TEMPORAL_ADDRESS') await ensureSearchAttributes(connection, namespace);
    const workerConnection = await connectWorker(address);
    this.defer('the worker connection', () => workerConnection.close());
    const eagerClient = new Client({ connection: workerConnection, namespace, interceptors: client.options.interceptors });
    return { address, namespace, source, uiUrl, client, connection, workerConnection, eagerClient };
  }

  /** The payment gateway in this process, on a pool of its own (it is a separate service in production). */
  async gateway(db: StackDatabase, opts: Omit<GatewayAppOptions, 'pool'> & { poolMax?: number }): Promise<RunningGateway> {
    const pool = createPool(db.url, {
      max: opts.poolMax ?? 10,
      onIdleError: (err) => this.logger.warn({ err: err.message }, 'idle postgres client of the gateway failed'),
    });
    this.defer('the gateway pool', () => pool.end());
    const gateway = await startGateway({ ...opts, pool, port: 0, host: '127.0.0.1', logger: opts.logger ?? this.logger.child({ component: 'gateway' }) });
    this.defer('the gateway', () => gateway.close()); // after the workers, its only clients
    this.#say(`payment gateway: ${gateway.url}`);
    return gateway;
  }

  /** The outbox relay in this process, publishing the database's events to `nats` until close(). */
  async relay(db: StackDatabase, nats: StackNats, opts: Partial<Omit<RelayOptions, 'pool' | 'databaseUrl' | 'natsUrl'>> = {}): Promise<OutboxRelay> {
    const settings = { ...relaySettings(this.config.events, this.logger.child({ component: 'relay' })), ...opts };
    return this.#stoppedOnClose('the outbox relay', OutboxRelay.start({ pool: db.pool, databaseUrl: db.url, natsUrl: nats.url, ...settings }));
  }

  /** The shipping consumer in this process, applying the order events from `nats` until close(). */
  async consumer(db: StackDatabase, nats: StackNats, opts: Partial<Omit<ShippingConsumerOptions, 'pool' | 'natsUrl'>> = {}): Promise<ShippingConsumer> {
    const settings = { ...consumerSettings(this.config.events, this.logger.child({ component: 'shipping' })), ...opts };
    return this.#stoppedOnClose('the shipping consumer', ShippingConsumer.start({ pool: db.pool, natsUrl: nats.url, ...settings }));
  }

  /** `started`, stopped by close(). */
  async #stoppedOnClose<T extends { stop(): Promise<void> }>(what: string, started: Promise<T>): Promise<T> {
    const service = await started;
    this.defer(what, () => service.stop());
    return service;
  }

  /** An order worker in this process, running until close() (which lets in-flight tasks finish). */
  async worker(
    temporal: StackTemporal,
    opts: { taskQueue: string; workflowBundle: WorkflowBundleWithSourceMap; deps: ActivityDeps; identity?: string; tracing?: Tracing | 'off' },
  ): Promise<Worker> {
    const worker = await createOrderWorker({ connection: temporal.workerConnection, namespace: temporal.namespace, ...opts });
    const running = worker.run();
    running.catch((err: unknown) => this.logger.error({ err }, 'the order worker failed'));
    this.defer(
      'the worker',
      async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      },
      WORKER_SHUTDOWN_MS,
    );
    return worker;
  }

  /** The orders API in this process, listening on `host`:`port` (0: a free port). */
  async api(deps: ApiDeps, listen: { host: string; port: number }): Promise<{ app: FastifyInstance; port: number }> {
    const app = buildApiApp(deps);
    this.defer('the API', async () => {
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
    });
    await app.listen(listen);
    return { app, port: (app.server.address() as AddressInfo).port };
  }

  /** A service as a separate OS process (it can be killed and restarted); stopped at close(). Not yet started. */
  process(spec: ChildSpec, onUnexpectedExit?: (child: SupervisedChild) => void): SupervisedChild {
    const child = new SupervisedChild(spec, onUnexpectedExit);
    this.defer(spec.name, () => child.stop(CHILD_STOP_GRACE_MS), 2 * CHILD_STOP_GRACE_MS);
    return child;
  }

  /**
   * A Temporal cluster of separate service processes (frontend, two history, matching, worker) on this
   * stack's Postgres, in databases of its own (`databasePrefix`, default `temporal_cluster`; dropped at close
   * when `drop` says so), with the namespace registered. Its processes are the stack's, so chaos can kill them.
   */
  async cluster(opts: ClusterOptions = {}): Promise<StackCluster> {
    const binaries = findClusterBinaries(this.#say);
    const server = await this.postgresServer();
    const prefix = opts.databasePrefix ?? 'temporal_cluster';
    const dir = path.join(PROJECT_ROOT, '.data', 'temporal-cluster', prefix);
    const layout = await prepareCluster({
      binaries,
      adminUrl: server.url,
      databasePrefix: prefix,
      dir,
      basePort: await freePortRange(30, 'the Temporal cluster'),
      say: this.#say,
    });
    if (opts.drop) {
      this.defer(`the cluster databases ${prefix}*`, async () => {
        if (opts.drop?.()) for (const name of [`${prefix}_visibility`, prefix]) await dropDatabase(server.url, name);
      });
    }
    const members = layout.members.map((m) => ({ ...m, child: this.process(m.spec, opts.onUnexpectedExit) }));
    this.#say(
      `temporal: a cluster of ${members.map((m) => m.name).join(', ')} on ${server.source === 'embedded' ? 'the embedded PostgreSQL' : 'DATABASE_URL'} (logs in ${path.relative(PROJECT_ROOT, dir)})`,
    );
    // One process first: each initialises the cluster metadata row when it finds none, and two at once on a
    // fresh database race for it (the loser exits with "failed to initialize current cluster metadata").
    const [first, ...rest] = members;
    if (first) await first.child.start();
    await Promise.all(rest.map((m) => m.child.start()));
    await registerNamespace(layout.address, this.config.temporal.namespace);
    this.#say(`temporal: cluster frontend at ${layout.address}`);
    return { address: layout.address, members };
  }

  /**
   * NATS with JetStream, the event broker: NATS_URL (which must answer with JetStream), else the server at
   * 127.0.0.1:4222 when it does, else a nats-server of the stack's own (found, or built with Go), started as a
   * process of the stack on a free port with its store under .data/nats/; a NatsUnavailableError naming every
   * way otherwise. Found once per stack. `own`: always a new server of the stack's own.
   */
  nats(opts: NatsOptions = {}): Promise<StackNats> {
    if (opts.own) return this.#ownNats(opts);
    this.#nats ??= this.#findNats(opts);
    return this.#nats;
  }

  async #findNats(opts: NatsOptions): Promise<StackNats> {
    const { url } = this.config.nats;
    if (url) {
      const problem = await natsProblem(url, 5000);
      if (problem) throw new NatsUnavailableError(`the NATS server at NATS_URL=${redactNatsUrl(url)} ${problem}.`);
      this.#say(`nats: ${redactNatsUrl(url)} (NATS_URL)`);
      return { url, source: 'NATS_URL', child: undefined };
    }
    if (await natsAnswers(LOCAL_NATS_URL)) {
      this.#say(`nats: the local server at ${LOCAL_NATS_URL}`);
      return { url: LOCAL_NATS_URL, source: 'local server', child: undefined };
    }
    return this.#ownNats(opts);
  }

  /** A nats-server of the stack's own, stopped at close (and its directory deleted when `drop` says so). */
  async #ownNats(opts: NatsOptions): Promise<StackNats> {
    const binary = findNatsServer(this.config.nats.serverPath) ?? installNatsServer(this.#say);
    if (!binary) throw new NatsUnavailableError(HOW_TO_GET_NATS);
    const named = opts.name !== undefined;
    const dir = path.join(PROJECT_ROOT, '.data', 'nats', opts.name ?? runName('nats'));
    const port = await freePortRange(1, 'a NATS server');
    const spec = natsServerSpec({ binary, port, storeDir: path.join(dir, 'store'), logFile: path.join(dir, 'nats-server.log') });
    // Registered before the process, so it runs after the process has stopped.
    this.defer(`the NATS directory ${path.relative(PROJECT_ROOT, dir)}`, async () => {
      if (opts.drop?.() ?? !named) await rm(dir, { recursive: true, force: true });
    });
    const child = this.process(spec, opts.onUnexpectedExit);
    this.#say(`nats: starting nats-server (${binary})…`);
    await child.start();
    const url = `nats://127.0.0.1:${port}`;
    this.#say(`nats: nats-server at ${url} (store and log in ${path.relative(PROJECT_ROOT, dir)})`);
    return { url, source: 'nats-server', child };
  }

  /** The `temporal` CLI (for a dev server run as a process of the stack's own); a clear error when there is none. */
  temporalCli(why: string): string {
    const cli = findTemporalCli(this.config.temporal.cliPath) ?? installTemporalCli(this.#say);
    if (!cli)
      throw new TemporalUnavailableError(
        `${why} needs the \`temporal\` CLI: put it on PATH, set TEMPORAL_CLI_PATH, or install Go (then \`npm run temporal:install\` builds it).`,
      );
    return cli.path;
  }
}

export type ClusterOptions = { databasePrefix?: string; drop?: () => boolean; onUnexpectedExit?: (child: SupervisedChild) => void };

export type StackCluster = { address: string; members: Array<ClusterMember & { child: SupervisedChild }> };

/** Registers `namespace` and our search attributes once the cluster answers (its history and matching services may still be joining). */
function registerNamespace(address: string, namespace: string): Promise<void> {
  return untilTemporalAnswers(
    address,
    async (connection) => {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') }).catch((err: { code?: number }) => {
        if (err.code !== 6) throw err; // ALREADY_EXISTS
      });
      await connection.workflowService.describeNamespace({ namespace });
      await ensureSearchAttributes(connection, namespace);
    },
    {
      timeoutMs: 90_000,
      intervalMs: 500,
      failure: (why) => new StartupError(`the Temporal cluster at ${address} did not take the namespace ${namespace}: ${why}`),
    },
  );
}

/** The first of `n` consecutive ports that are free now on 127.0.0.1 (`forWhat` names their user in the error). */
async function freePortRange(n: number, forWhat: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    // Below 32768: the cluster stores its membership ports as a Postgres smallint.
    const base = 20_000 + Math.floor(Math.random() * (32_767 - 20_000 - n));
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new StartupError(`no ${n} consecutive free ports found for ${forWhat}`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A fresh name for a run's own database or task queue. */
export function runName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  return err instanceof Error ? err.message || err.name : String(err);
}
