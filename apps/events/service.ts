// What the relay's and the consumer's entrypoints share: the broker a standalone service may use (NATS_URL,
// else the server at 127.0.0.1:4222 — never a private one nobody else would reach), their Postgres, their
// /metrics and /healthz, and a clean stop on SIGINT or SIGTERM.
import Fastify from 'fastify';
import type { Pool } from 'pg';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { nextSignal, runMain } from '../../src/cli/run-main';
import { type Config, loadConfig } from '../../src/config';
import { type MigrationSet, migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { provisionDatabase } from '../../src/db/provision';
import { HOW_TO_GET_NATS, LOCAL_NATS_URL, NatsUnavailableError, natsProblem, redactNatsUrl } from '../../src/events/nats-server';
import { type Logger, createLogger } from '../../src/logger';
import { type ProductionRole, assertProductionSafe } from '../../src/production-checks';
import { eventTopology } from './broker';

/**
 * The relay's settings from EVENTS_STREAM, EVENTS_DUPLICATE_WINDOW_SECONDS, RELAY_BATCH_SIZE, RELAY_POLL_INTERVAL_MS
 * and the test-only RELAY_FAULT_PAUSE_AFTER_PUBLISH_MS, logging to `logger`.
 */
export function relaySettings(events: Config['events'], logger: Logger) {
  const pauseMs = events.relayFaultPauseAfterPublishMs;
  return {
    batchSize: events.relayBatchSize,
    pollIntervalMs: events.relayPollIntervalMs,
    duplicateWindowMs: events.duplicateWindowSeconds * 1000,
    topology: eventTopology(events.stream),
    logger,
    ...(pauseMs > 0 && { hooks: { afterPublish: () => faultPause(logger, pauseMs, 'publishing') } }),
  };
}

/**
 * The shipping consumer's settings from EVENTS_STREAM, EVENTS_DUPLICATE_WINDOW_SECONDS, CONSUMER_ACK_WAIT_SECONDS
 * and the test-only CONSUMER_FAULT_PAUSE_AFTER_APPLY_MS, logging to `logger`.
 */
export function consumerSettings(events: Config['events'], logger: Logger) {
  const pauseMs = events.consumerFaultPauseAfterApplyMs;
  return {
    ackWaitMs: events.consumerAckWaitSeconds * 1000,
    duplicateWindowMs: events.duplicateWindowSeconds * 1000,
    topology: eventTopology(events.stream),
    logger,
    ...(pauseMs > 0 && { hooks: { afterApply: () => faultPause(logger, pauseMs, 'applying') } }),
  };
}

/** The broker of a standalone service: NATS_URL, else the local server; a clear error when neither answers with JetStream. */
export async function serviceNatsUrl(config: Config): Promise<string> {
  const url = config.nats.url ?? LOCAL_NATS_URL;
  const problem = await natsProblem(url, 5000);
  if (!problem) return url;
  const where = config.nats.url ? `NATS_URL=${redactNatsUrl(url)}` : `${LOCAL_NATS_URL} (NATS_URL is unset)`;
  throw new NatsUnavailableError(`the NATS server at ${where} ${problem}.\n${HOW_TO_GET_NATS}`);
}

/** What an event service's `start` is given: its connections, its logger and the events' settings. */
export type EventServiceDeps = { pool: Pool; databaseUrl: string; natsUrl: string; registry: Registry; logger: Logger; events: Config['events'] };

/**
 * An event service's entry point: the configuration loaded (and refused in production when unsafe), then the
 * service run until SIGINT or SIGTERM: Postgres provisioned and `migrations` applied, the broker found,
 * `/metrics` and `/healthz` on `httpPort` when set; `start` returns what to stop at the end.
 */
export function runEventServiceMain(o: {
  /** Its role (for the production checks), its logger's name, and its name in messages. */
  service: { role: Extract<ProductionRole, 'relay' | 'consumer'>; logName: string; name: string };
  migrations?: MigrationSet;
  httpPort: (events: Config['events']) => number | undefined;
  start: (deps: EventServiceDeps) => Promise<{ stop(): Promise<void> }>;
}): void {
  runMain(async () => {
    const config = loadConfig();
    assertProductionSafe(config, o.service.role);
    const logger = createLogger(config, o.service.logName);
    const httpPort = o.httpPort(config.events);
    const natsUrl = await serviceNatsUrl(config);
    const db = await provisionDatabase(config, (line) => logger.trace({ postgres: line.trimEnd() }, 'embedded postgres'));
    try {
      const applied = await migrate(db.url, (msg) => logger.debug(msg), o.migrations);
      if (applied.length > 0) logger.info({ applied }, `${o.service.name}: migrations applied`);
      const pool = createPool(db.url, {
        max: config.poolMax,
        onIdleError: (err) => logger.warn({ error: err.message }, 'idle postgres client failed; the pool replaces it'),
      });
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const http = Fastify({ logger: false });
      http.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
      http.get('/healthz', async () => ({ status: 'ok' }));
      try {
        const service = await o.start({ pool, databaseUrl: db.url, natsUrl, registry, logger, events: config.events });
        if (httpPort !== undefined) await http.listen({ port: httpPort, host: '0.0.0.0' });
        logger.info({ nats: redactNatsUrl(natsUrl), source: db.source, httpPort }, `${o.service.name} ready`);
        const signal = await nextSignal();
        logger.info({ signal }, `${o.service.name} stopping`);
        await service.stop();
      } finally {
        await http.close();
        await pool.end();
      }
    } finally {
      await db.stop();
    }
  });
}

/** A test-only fault: log that the process is paused at `where`, then wait `ms` (a test kills it meanwhile). */
export async function faultPause(logger: Logger, ms: number, where: string): Promise<void> {
  if (ms <= 0) return;
  logger.warn({ pauseMs: ms }, `fault: paused after ${where}`);
  await new Promise((r) => setTimeout(r, ms));
}
