// The only reader of process.env: every setting is parsed here once, at start-up.
import path from 'node:path';
import { z } from 'zod';

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

const envSchema = z.object({
  DATABASE_URL: postgresUrl.optional().or(z.literal('').transform(() => undefined)),
  EMBEDDED_PG_DIR: optionalString,
  EMBEDDED_PG_PORT: port.default(54329),
  PG_POOL_MAX: positiveInt.max(1000).default(20),
  IDEMPOTENCY_TTL_SECONDS: positiveInt.default(86_400),
  IDEMPOTENCY_SCOPE_TTLS: scopeTtls.default({}),
  CLEANUP_BATCH_SIZE: positiveInt.max(100_000).default(1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = {
  databaseUrl: string | undefined;
  embeddedPostgres: { dataDir: string; port: number };
  poolMax: number;
  idempotency: { defaultTtlSeconds: number; ttlSecondsByScope: Record<string, number> };
  cleanupBatchSize: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
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
    logLevel: e.LOG_LEVEL,
  };
}
