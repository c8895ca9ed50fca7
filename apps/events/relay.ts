// The outbox relay: publishes outbox rows to JetStream in seq order, the event ID as Nats-Msg-Id, and
// marks a row published only after the broker acknowledged it. Killed anywhere, it publishes again what
// it had not marked: the broker drops a re-publication inside its duplicate window, consumers' inboxes
// drop it after. Several may run: one publishes (it holds a Postgres advisory lock), the others wait.
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import pg, { type Pool } from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../src/logger';
import { closeBroker, connectBroker, ensureEventStreams, eventSubject, eventTopology, type BrokerOptions } from './broker';
import type { EventType, SagaEvent } from './events';

/** The advisory lock key the publishing relay holds (any other relay waits for it). */
const RELAY_LOCK_KEY = 0x6f7574626f78; // "outbox"

export type RelayOptions = BrokerOptions & {
  pool: Pool;
  /** Where the leader lock's own connection goes (the pool's database). */
  databaseUrl: string;
  natsUrl: string;
  logger: Logger;
  /** Rows read and published per batch. Default 100. */
  batchSize?: number;
  /** How long an idle relay (nothing to publish, or not the one publishing) waits before it looks again. Default 200 ms. */
  pollIntervalMs?: number;
  /** How long a publication may wait for the broker's acknowledgement. Default 5 s. */
  publishTimeoutMs?: number;
  /** One publishing relay at a time (default). Off, every relay publishes: duplicates for the broker and inboxes to drop (a test does that). */
  exclusive?: boolean;
  registry?: Registry;
  /** Test hooks: after the broker acknowledged a batch, before it is marked (a crash there re-publishes it). */
  hooks?: { afterPublish?: (eventIds: string[]) => Promise<void> };
};

type OutboxRow = {
  seq: string;
  event_id: string;
  type: EventType;
  version: number;
  workflow_id: string;
  aggregate_id: string;
  payload: unknown;
  created_at: Date;
  attempts: number;
};

export class OutboxRelay {
  readonly #opts: RelayOptions;
  readonly #metrics: RelayMetrics;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #lock: pg.Client | undefined;
  #holdsLock = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  private constructor(opts: RelayOptions) {
    this.#opts = opts;
    this.#metrics = new RelayMetrics(opts.pool, opts.registry);
  }

  /** Connects, creates the streams if missing and starts publishing in the background. */
  static async start(opts: RelayOptions): Promise<OutboxRelay> {
    const relay = new OutboxRelay(opts);
    relay.#nc = await connectBroker(opts.natsUrl, 'outbox-relay');
    await ensureEventStreams(relay.#nc, opts).catch(async (err: unknown) => {
      await closeBroker(relay.#nc);
      throw err;
    });
    relay.#js = jetstream(relay.#nc, { timeout: opts.publishTimeoutMs ?? 5000 });
    relay.#loop = relay.#run();
    return relay;
  }

  get published(): number {
    return this.#metrics.publishedCount;
  }

  /** Stops after the batch in flight (what it published and did not mark is published again by the next relay). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    await this.#releaseLock();
    await closeBroker(this.#nc);
  }

  async #run(): Promise<void> {
    const { logger } = this.#opts;
    const idleMs = this.#opts.pollIntervalMs ?? 200;
    let failures = 0;
    while (!this.#stopped) {
      let published = 0;
      try {
        if (await this.#mayPublish()) published = await this.publishBatch();
        failures = 0;
      } catch (err) {
        failures += 1;
        this.#metrics.failures.inc();
        // The broker or Postgres is away: what was not marked stays in the outbox; back off up to 5 s.
        logger.warn({ err: String(err), failures }, 'outbox relay: batch failed; retrying');
        await this.#sleep(Math.min(5000, idleMs * 2 ** Math.min(failures, 5)));
        continue;
      }
      if (published === 0) await this.#sleep(idleMs);
    }
  }

  /**
   * Publishes one batch of unpublished rows, oldest first; returns how many the broker acknowledged.
   * Events of one aggregate go one after another (each after the previous one's ack); a failure skips
   * that aggregate's later events in this batch, so its order holds.
   */
  async publishBatch(): Promise<number> {
    const js = this.#js;
    if (!js) throw new Error('the relay is not started');
    const { rows } = await this.#opts.pool.query<OutboxRow>(
      `UPDATE outbox_events SET attempts = attempts + 1
        WHERE seq IN (SELECT seq FROM outbox_events WHERE published_at IS NULL ORDER BY seq LIMIT $1)
        RETURNING seq, event_id, type, version, workflow_id, aggregate_id, payload, created_at, attempts`,
      [this.#opts.batchSize ?? 100],
    );
    if (rows.length === 0) return 0;
    const topology = this.#opts.topology ?? eventTopology();
    rows.sort((a, b) => Number(BigInt(a.seq) - BigInt(b.seq)));
    const byAggregate = new Map<string, OutboxRow[]>();
    for (const row of rows) byAggregate.set(row.aggregate_id, [...(byAggregate.get(row.aggregate_id) ?? []), row]);
    const acked: OutboxRow[] = [];
    let firstError: Error | undefined;
    await Promise.all(
      [...byAggregate.values()].map(async (events) => {
        for (const row of events) {
          try {
            const ack = await js.publish(eventSubject(topology, row.type), JSON.stringify(envelopeOf(row)), { msgID: row.event_id });
            if (ack.duplicate) this.#metrics.brokerDuplicates.inc();
            acked.push(row);
          } catch (err) {
            firstError ??= err instanceof Error ? err : new Error(String(err));
            return;
          }
        }
      }),
    );
    if (acked.length > 0) {
      await this.#opts.hooks?.afterPublish?.(acked.map((r) => r.event_id));
      await this.#opts.pool.query('UPDATE outbox_events SET published_at = now() WHERE seq = ANY($1::bigint[]) AND published_at IS NULL', [
        acked.map((r) => r.seq),
      ]);
      this.#metrics.record(acked);
    }
    if (firstError) throw firstError;
    return acked.length;
  }

  /** True when this relay may publish: always when not exclusive, else while it holds the advisory lock. */
  async #mayPublish(): Promise<boolean> {
    if (this.#opts.exclusive === false) return true;
    if (this.#holdsLock) return true;
    try {
      // One connection of its own, kept while it lives: a standby asks for the lock on it at each look.
      if (!this.#lock) {
        const client = new pg.Client({
          connectionString: this.#opts.databaseUrl,
          application_name: 'outbox-relay-lock',
          keepAlive: true,
          connectionTimeoutMillis: 5000,
        });
        // A lost connection loses the lock with it: stop publishing until it is taken again.
        client.on('error', () => void this.#releaseLock());
        this.#lock = client;
        await client.connect();
      }
      const { rows } = await this.#lock.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1) AS held', [RELAY_LOCK_KEY]);
      if (rows[0]?.held) {
        this.#holdsLock = true;
        this.#opts.logger.info('outbox relay: publishing (this relay holds the outbox lock)');
        return true;
      }
    } catch (err) {
      this.#opts.logger.warn({ err: String(err) }, 'outbox relay: could not ask for the outbox lock');
      await this.#releaseLock();
    }
    return false;
  }

  async #releaseLock(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    this.#holdsLock = false;
    await lock?.end().catch(() => undefined);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** What goes over the wire: the envelope of docs/events.md, built from the row. */
function envelopeOf(row: OutboxRow): SagaEvent {
  return {
    eventId: row.event_id,
    type: row.type,
    version: 1,
    workflowId: row.workflow_id,
    occurredAt: row.created_at.toISOString(),
    payload: row.payload,
  } as SagaEvent;
}

class RelayMetrics {
  publishedCount = 0;
  readonly published: Counter;
  readonly republished: Counter;
  readonly brokerDuplicates: Counter;
  readonly failures: Counter;

  constructor(pool: Pool, registry: Registry | undefined) {
    const registers = registry ? [registry] : [];
    this.published = new Counter({
      name: 'outbox_events_published_total',
      help: 'Outbox events the broker acknowledged and the relay marked published',
      labelNames: ['type'],
      registers,
    });
    this.republished = new Counter({
      name: 'outbox_events_republished_total',
      help: 'Outbox events published again after an earlier attempt was not marked (a relay crash or a broker error)',
      registers,
    });
    this.brokerDuplicates = new Counter({
      name: 'outbox_broker_duplicates_total',
      help: 'Publications the broker acknowledged as duplicates of an event ID it already held (Nats-Msg-Id)',
      registers,
    });
    this.failures = new Counter({ name: 'outbox_relay_batch_failures_total', help: 'Relay batches that failed (broker or Postgres unavailable)', registers });
    new Gauge({
      name: 'outbox_lag_seconds',
      help: 'Age of the oldest unpublished outbox event (0 when none waits)',
      registers,
      async collect() {
        const { rows } = await pool.query<{ lag: number }>(
          'SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS lag FROM outbox_events WHERE published_at IS NULL',
        );
        this.set(rows[0]?.lag ?? 0);
      },
    });
  }

  record(rows: OutboxRow[]): void {
    this.publishedCount += rows.length;
    for (const row of rows) {
      this.published.inc({ type: row.type });
      if (row.attempts > 1) this.republished.inc();
    }
  }
}
