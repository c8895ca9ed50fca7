import path from 'node:path';
import { ConfigError, PROJECT_ROOT, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  test('defaults: embedded Postgres inside the project, 24 h retention', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.embeddedPostgres.dataDir).toBe(path.join(PROJECT_ROOT, '.data/postgres'));
    expect(config.idempotency).toEqual({ defaultTtlSeconds: 86_400, ttlSecondsByScope: {} });
  });

  test('reads and coerces every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@h:5432/db',
      PG_POOL_MAX: '5',
      IDEMPOTENCY_TTL_SECONDS: '60',
      IDEMPOTENCY_SCOPE_TTLS: 'http=172800, step=3600',
    });
    expect(config.databaseUrl).toBe('postgres://u@h:5432/db');
    expect(config.poolMax).toBe(5);
    expect(config.idempotency).toEqual({ defaultTtlSeconds: 60, ttlSecondsByScope: { http: 172800, step: 3600 } });
  });

  test('stuck-compensation settings of the sagas the API starts: defaults, seconds, the maximum never below the first wait', () => {
    expect(loadConfig({}).saga).toEqual({ stuckAfterAttempts: 10, stuckRetryIntervalMs: 600_000, stuckRetryMaxIntervalMs: 21_600_000 });
    expect(loadConfig({ SAGA_STUCK_AFTER_ATTEMPTS: '3', SAGA_STUCK_RETRY_INTERVAL_SECONDS: '2', SAGA_STUCK_RETRY_MAX_INTERVAL_SECONDS: '60' }).saga).toEqual({
      stuckAfterAttempts: 3,
      stuckRetryIntervalMs: 2000,
      stuckRetryMaxIntervalMs: 60_000,
    });
    expect(loadConfig({ SAGA_STUCK_RETRY_INTERVAL_SECONDS: '7200', SAGA_STUCK_RETRY_MAX_INTERVAL_SECONDS: '60' }).saga.stuckRetryMaxIntervalMs).toBe(7_200_000);
    expect(() => loadConfig({ SAGA_STUCK_AFTER_ATTEMPTS: '0' })).toThrow(/SAGA_STUCK_AFTER_ATTEMPTS/);
  });

  test('TEMPORAL_MODE: a dev server unless it says cluster', () => {
    expect(loadConfig({}).temporal.mode).toBe('dev');
    expect(loadConfig({ TEMPORAL_MODE: 'cluster' }).temporal.mode).toBe('cluster');
  });

  test('an empty DATABASE_URL means unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).databaseUrl).toBeUndefined();
  });

  test.each([
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: .*postgres:\/\//],
    ['PG_POOL_MAX', 'many', /PG_POOL_MAX/],
    ['EMBEDDED_PG_PORT', '70000', /EMBEDDED_PG_PORT/],
    ['IDEMPOTENCY_TTL_SECONDS', '-1', /IDEMPOTENCY_TTL_SECONDS/],
    ['IDEMPOTENCY_SCOPE_TTLS', 'http:10', /IDEMPOTENCY_SCOPE_TTLS: "http:10" is not scope=seconds/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
    ['WEBHOOK_EVENTS_RETENTION_SECONDS', '0', /WEBHOOK_EVENTS_RETENTION_SECONDS/],
    ['WEBHOOK_EVENTS_RETENTION_SECONDS', '1.5', /WEBHOOK_EVENTS_RETENTION_SECONDS/],
    ['TEMPORAL_MODE', 'kubernetes', /TEMPORAL_MODE/],
  ])('a bad %s stops start-up with a message naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
    expect(() => loadConfig({ [name]: value })).toThrow(`(got ${JSON.stringify(value)})`);
  });

  test('webhook event retention: 7 days by default, down to one second', () => {
    expect(loadConfig({}).webhookEventsRetentionSeconds).toBe(604_800);
    expect(loadConfig({ WEBHOOK_EVENTS_RETENTION_SECONDS: '1' }).webhookEventsRetentionSeconds).toBe(1);
    expect(loadConfig({ WEBHOOK_EVENTS_RETENTION_SECONDS: '3600' }).webhookEventsRetentionSeconds).toBe(3600);
  });

  test('NODE_ENV: production only when it says exactly production', () => {
    expect(loadConfig({})).toMatchObject({ nodeEnv: undefined, production: false });
    expect(loadConfig({ NODE_ENV: '' })).toMatchObject({ nodeEnv: undefined, production: false });
    expect(loadConfig({ NODE_ENV: 'test' })).toMatchObject({ nodeEnv: 'test', production: false });
    expect(loadConfig({ NODE_ENV: 'production' })).toMatchObject({ nodeEnv: 'production', production: true });
  });
});
