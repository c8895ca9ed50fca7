// Where the database comes from: DATABASE_URL when set, otherwise the embedded default.
import type { Config } from '../config';
import { StartupError } from '../errors';
import { describeDatabaseUrl, startEmbeddedPostgres, whyUnreachable } from 'idempotent-sagas/testing';

export type ProvisionedDatabase = {
  url: string;
  source: 'DATABASE_URL' | 'embedded';
  stop(): Promise<void>;
};

export async function provisionDatabase(
  config: Pick<Config, 'databaseUrl' | 'embeddedPostgres'>,
  log: (line: string) => void = () => {},
): Promise<ProvisionedDatabase> {
  if (config.databaseUrl) {
    await assertReachable(config.databaseUrl);
    return { url: config.databaseUrl, source: 'DATABASE_URL', stop: async () => {} };
  }
  const pg = await startEmbeddedPostgres({ ...config.embeddedPostgres, log });
  return { url: pg.url, source: 'embedded', stop: () => pg.stop() };
}

/** Connects once, so that an unreachable or refused database is one line naming DATABASE_URL, not a stack later. */
async function assertReachable(url: string): Promise<void> {
  const why = await whyUnreachable(url, 10_000);
  if (why !== undefined) throw new StartupError(`cannot reach Postgres at DATABASE_URL=${describeDatabaseUrl(url)}: ${why}`);
}
