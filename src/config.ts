// The only reader of process.env: every setting is parsed here once, at start-up.
import path from 'node:path';
import { z } from 'zod';
import { type FaultConfigInput, faultConfigSchema } from '../apps/gateway/faults';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const postgresUrl = z
  .string()
  .trim()
  .refine((s) => /^postgres(ql)?:\/\/.+/.test(s), 'a URL of the form postgres://user@host:port/database');

/** A NATS server: nats:// or tls:// (optionally with user:pass@ or a token@), or a bare host:port. */
const natsUrl = z
  .string()
  .trim()
  .refine(
    (s) => /^(?:(?:nats|tls):\/\/(?:[^\s@/]+@)?[A-Za-z0-9.-]+(?::\d{1,5})?\/?|[A-Za-z0-9.-]+:\d{1,5})$/.test(s),
    'a NATS server URL, e.g. nats://127.0.0.1:4222 (or tls://host:port, or host:port)',
  );

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** Per-scope retention, written as `scope=seconds,scope=seconds` (e.g. `http=172800,step=86400`). */
const scopeTtls = z
  .string()
  .trim()
  .transform((s, ctx) => {
    const out: Record<string, number> = {};
    if (s === '') return out;
    for (const part of s.split(',')) {
      const m = /^\s*([a-z][a-z0-9_.:-]{0,63})\s*=\s*(\d+)\s*$/.exec(part);
      if (!m || !m[1] || !m[2] || Number(m[2]) <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not scope=seconds (seconds > 0)` });
        return z.NEVER;
      }
      out[m[1]] = Number(m[2]);
    }
    return out;
  });

/** GATEWAY_FAULTS: a JSON object checked against the gateway's fault schema; kept as given (the seed default is drawn at start). */
const gatewayFaults = z
  .string()
  .trim()
  .transform((s, ctx): FaultConfigInput | undefined => {
    if (s === '') return undefined;
    let json: unknown;
    try {
      json = JSON.parse(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
      return z.NEVER;
    }
    const checked = faultConfigSchema.safeParse(json);
    if (!checked.success) {
      for (const i of checked.error.issues) ctx.addIssue({ code: 'custom', message: `${i.path.join('.') || '(root)'}: ${i.message}` });
      return z.NEVER;
    }
    return json as FaultConfigInput;
  });

const httpUrl = z
  .string()
  .trim()
  .refine((s) => /^https?:\/\/[^\s]+$/.test(s), 'an http(s) URL');

/** Signs the gateway's webhooks when WEBHOOK_SECRET is unset. Development only: it is public, in this file. */
export const DEV_WEBHOOK_SECRET = 'whsec_dev_only_not_a_secret';

const envSchema = z.object({
  DATABASE_URL: postgresUrl.optional().or(z.literal('').transform(() => undefined)),
  EMBEDDED_PG_DIR: optionalString,
  EMBEDDED_PG_PORT: port.default(54329),
  PG_POOL_MAX: positiveInt.max(1000).default(20),
  IDEMPOTENCY_TTL_SECONDS: positiveInt.default(86_400),
  IDEMPOTENCY_SCOPE_TTLS: scopeTtls.default({}),
  CLEANUP_BATCH_SIZE: positiveInt.max(100_000).default(1000),
  TEMPORAL_ADDRESS: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:7233')
      .optional(),
  ),
  TEMPORAL_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,255}$/, 'a namespace name')
    .default('default'),
  TEMPORAL_TASK_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,255}$/, 'a task queue name')
    .default('orders'),
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_UI_PORT: port.optional(),
  TEMPORAL_MODE: z.enum(['dev', 'cluster']).default('dev'),
  WORKFLOW_BUNDLE_PATH: optionalString,
  NATS_URL: optionalString.pipe(natsUrl.optional()),
  NATS_SERVER_PATH: optionalString,
  EVENTS_STREAM: z
    .string()
    .trim()
    .regex(/^[A-Z][A-Z0-9_]{0,31}$/, 'a JetStream stream name: capital letters, digits and _, at most 32, e.g. SAGA_EVENTS')
    .default('SAGA_EVENTS'),
  EVENTS_DUPLICATE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(120),
  RELAY_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(200),
  RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  RELAY_HTTP_PORT: port.optional(),
  CONSUMER_ACK_WAIT_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  CONSUMER_HTTP_PORT: port.optional(),
  RELAY_FAULT_PAUSE_AFTER_PUBLISH_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  CONSUMER_FAULT_PAUSE_AFTER_APPLY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  ACTIVITY_LEASE_MS: positiveInt.min(500).max(600_000).default(15_000),
  CHARGE_STEP_KIND: z.enum(['external', 'at-most-once']).default('external'),
  GATEWAY_PORT: port.default(4010),
  GATEWAY_HOST: z
    .string()
    .regex(/^[0-9a-fA-F.:]+$|^localhost$/, 'an IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0')
    .default('127.0.0.1'),
  GATEWAY_URL: optionalString.pipe(httpUrl.optional()),
  GATEWAY_TIMEOUT_MS: positiveInt.max(600_000).default(5000),
  GATEWAY_FAULTS: gatewayFaults.optional(),
  GATEWAY_WEBHOOK_URL: optionalString.pipe(httpUrl.optional()),
  GATEWAY_WEBHOOK_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
  WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').default(DEV_WEBHOOK_SECRET),
  WEBHOOK_TOLERANCE_SECONDS: positiveInt.max(86_400).default(300),
  PORT: port.default(3000),
  SAGA_STUCK_AFTER_ATTEMPTS: positiveInt.max(1000).default(10),
  SAGA_STUCK_RETRY_INTERVAL_SECONDS: positiveInt.max(30 * 86_400).default(600),
  SAGA_STUCK_RETRY_MAX_INTERVAL_SECONDS: positiveInt.max(30 * 86_400).default(21_600),
  API_FAULT_PAUSE_AFTER_START_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  API_HOST: z
    .string()
    .regex(/^[0-9a-fA-F.:]+$|^localhost$/, 'an IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0')
    .default('127.0.0.1'),
  WORKER_HTTP_PORT: port.optional(),
  WORKER_HTTP_HOST: z
    .string()
    .regex(/^[0-9a-fA-F.:]+$|^localhost$/, 'an IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0')
    .default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WEBHOOK_EVENTS_RETENTION_SECONDS: positiveInt.default(604_800),
  OUTBOX_RETENTION_SECONDS: positiveInt.default(604_800),
  INBOX_RETENTION_SECONDS: positiveInt.default(604_800),
  NODE_ENV: optionalString,
});

export type Config = {
  databaseUrl: string | undefined;
  embeddedPostgres: { dataDir: string; port: number };
  poolMax: number;
  idempotency: { defaultTtlSeconds: number; ttlSecondsByScope: Record<string, number> };
  cleanupBatchSize: number;
  temporal: {
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    cliPath: string | undefined;
    uiPort: number | undefined;
    /** Without TEMPORAL_ADDRESS: a dev server (`dev`), or a cluster of separate service processes on Postgres (`cluster`). */
    mode: 'dev' | 'cluster';
    /** A workflow bundle prebuilt with `bundleWorkflowCode` (a worker then starts without bundling); bundled at start when unset. */
    workflowBundlePath: string | undefined;
  };
  /**
   * The event broker, NATS with JetStream (NATS_URL, NATS_SERVER_PATH). Without a URL the stack uses the server at
   * 127.0.0.1:4222 when it answers with JetStream, else starts nats-server (this binary when set).
   */
  nats: { url: string | undefined; serverPath: string | undefined };
  /** The outbox relay and the shipping consumer (docs/events.md). */
  events: {
    /** The JetStream stream of the events (EVENTS_STREAM, default SAGA_EVENTS); its subjects are its name in lower case with - for _. */
    stream: string;
    /** The broker drops a re-published event ID within this window (EVENTS_DUPLICATE_WINDOW_SECONDS, default 120). */
    duplicateWindowSeconds: number;
    /** How long an idle relay waits before it reads the outbox again (RELAY_POLL_INTERVAL_MS, default 200). */
    relayPollIntervalMs: number;
    /** Outbox rows per relay batch (RELAY_BATCH_SIZE, default 100). */
    relayBatchSize: number;
    /** The relay's /metrics and /healthz (RELAY_HTTP_PORT); off when unset. */
    relayHttpPort: number | undefined;
    /** db:cleanup deletes outbox rows published longer ago than this (OUTBOX_RETENTION_SECONDS, default 7 days); never an unpublished one. */
    outboxRetentionSeconds: number;
    /** db:cleanup deletes shipping inbox rows older than this (INBOX_RETENTION_SECONDS, default 7 days): longer than a copy can still arrive. */
    inboxRetentionSeconds: number;
    /** How long the broker waits for the consumer's ack before redelivering (CONSUMER_ACK_WAIT_SECONDS, default 30). */
    consumerAckWaitSeconds: number;
    /** The consumer's /metrics and /healthz (CONSUMER_HTTP_PORT); off when unset. */
    consumerHttpPort: number | undefined;
    /** Test-only fault: the relay waits this long after the broker's ack, before marking (a kill there re-publishes); 0 = off. */
    relayFaultPauseAfterPublishMs: number;
    /** Test-only fault: the consumer waits this long after its effect committed, before the ack (a kill there redelivers); 0 = off. */
    consumerFaultPauseAfterApplyMs: number;
  };
  /** How long a claim on an external effect lasts without a heartbeat. */
  activityLeaseMs: number;
  /** The charge's step kind: `external` for a gateway that dedups by Idempotency-Key, `at-most-once` for one that does not. */
  chargeStepKind: 'external' | 'at-most-once';
  gateway: {
    port: number;
    /** Address the gateway listens on (0.0.0.0 in containers). */
    host: string;
    /** Where clients reach the gateway; defaults to http://127.0.0.1:<port>. */
    url: string;
    timeoutMs: number;
    /** Initial fault configuration (validated); undefined means no faults. */
    faults: FaultConfigInput | undefined;
    /** Where the gateway POSTs signed webhooks; undefined means none are sent. */
    webhookUrl: string | undefined;
    webhookDelayMs: number;
    /** Shared by the gateway (signs) and the API (verifies). */
    webhookSecret: string;
    /** How far (seconds) a webhook's signed timestamp may be from the API's clock before it is refused as stale. */
    webhookToleranceSeconds: number;
  };
  /** Where the orders API listens (PORT, API_HOST). */
  api: {
    port: number;
    host: string;
    /** Test-only fault (API_FAULT_PAUSE_AFTER_START_MS): POST /v1/orders waits this long after starting the saga, before storing its response; 0 = off. */
    faultPauseAfterStartMs: number;
  };
  /** The worker's /metrics, /healthz and /readyz (WORKER_HTTP_PORT, WORKER_HTTP_HOST); off when no port is set. */
  workerHttp: { port: number | undefined; host: string };
  /** How the sagas the API starts handle a compensation that keeps failing (SAGA_STUCK_*). */
  saga: { stuckAfterAttempts: number; stuckRetryIntervalMs: number; stuckRetryMaxIntervalMs: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** How long a received webhook event ID is kept (and deduplicates redeliveries) before `db:cleanup` prunes it. */
  webhookEventsRetentionSeconds: number;
  /** NODE_ENV as given (undefined when unset). */
  nodeEnv: string | undefined;
  /** NODE_ENV=production: entrypoints refuse development secrets and test-only faults (src/production-checks.ts). */
  production: boolean;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; a bad value throws a ConfigError naming the variable and what was expected. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = i.path.join('.');
      const got = env[name] === undefined ? 'unset' : JSON.stringify(env[name]);
      return `  ${name}: ${i.message} (got ${got})`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    embeddedPostgres: {
      dataDir: path.resolve(PROJECT_ROOT, e.EMBEDDED_PG_DIR ?? '.data/postgres'),
      port: e.EMBEDDED_PG_PORT,
    },
    poolMax: e.PG_POOL_MAX,
    idempotency: { defaultTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS, ttlSecondsByScope: e.IDEMPOTENCY_SCOPE_TTLS },
    cleanupBatchSize: e.CLEANUP_BATCH_SIZE,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cliPath: e.TEMPORAL_CLI_PATH,
      uiPort: e.TEMPORAL_UI_PORT,
      mode: e.TEMPORAL_MODE,
      workflowBundlePath: e.WORKFLOW_BUNDLE_PATH === undefined ? undefined : path.resolve(e.WORKFLOW_BUNDLE_PATH),
    },
    nats: { url: e.NATS_URL, serverPath: e.NATS_SERVER_PATH },
    events: {
      stream: e.EVENTS_STREAM,
      duplicateWindowSeconds: e.EVENTS_DUPLICATE_WINDOW_SECONDS,
      relayPollIntervalMs: e.RELAY_POLL_INTERVAL_MS,
      relayBatchSize: e.RELAY_BATCH_SIZE,
      relayHttpPort: e.RELAY_HTTP_PORT,
      outboxRetentionSeconds: e.OUTBOX_RETENTION_SECONDS,
      inboxRetentionSeconds: e.INBOX_RETENTION_SECONDS,
      consumerAckWaitSeconds: e.CONSUMER_ACK_WAIT_SECONDS,
      consumerHttpPort: e.CONSUMER_HTTP_PORT,
      relayFaultPauseAfterPublishMs: e.RELAY_FAULT_PAUSE_AFTER_PUBLISH_MS,
      consumerFaultPauseAfterApplyMs: e.CONSUMER_FAULT_PAUSE_AFTER_APPLY_MS,
    },
    activityLeaseMs: e.ACTIVITY_LEASE_MS,
    chargeStepKind: e.CHARGE_STEP_KIND,
    gateway: {
      port: e.GATEWAY_PORT,
      host: e.GATEWAY_HOST,
      url: (e.GATEWAY_URL ?? `http://127.0.0.1:${e.GATEWAY_PORT}`).replace(/\/+$/, ''),
      timeoutMs: e.GATEWAY_TIMEOUT_MS,
      faults: e.GATEWAY_FAULTS,
      webhookUrl: e.GATEWAY_WEBHOOK_URL,
      webhookDelayMs: e.GATEWAY_WEBHOOK_DELAY_MS,
      webhookSecret: e.WEBHOOK_SECRET,
      webhookToleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
    },
    api: { port: e.PORT, host: e.API_HOST, faultPauseAfterStartMs: e.API_FAULT_PAUSE_AFTER_START_MS },
    workerHttp: { port: e.WORKER_HTTP_PORT, host: e.WORKER_HTTP_HOST },
    saga: {
      stuckAfterAttempts: e.SAGA_STUCK_AFTER_ATTEMPTS,
      stuckRetryIntervalMs: e.SAGA_STUCK_RETRY_INTERVAL_SECONDS * 1000,
      stuckRetryMaxIntervalMs: Math.max(e.SAGA_STUCK_RETRY_INTERVAL_SECONDS, e.SAGA_STUCK_RETRY_MAX_INTERVAL_SECONDS) * 1000,
    },
    logLevel: e.LOG_LEVEL,
    webhookEventsRetentionSeconds: e.WEBHOOK_EVENTS_RETENTION_SECONDS,
    nodeEnv: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
  };
}
