// Where the database comes from: DATABASE_URL when set, otherwise the embedded default.
import type { Config } from '../config';
import { startEmbeddedPostgres } from './embedded';

export type ProvisionedDatabase = {
  url: string;
  source: 'DATABASE_URL' | 'embedded';
  stop(): Promise<void>;
};

export async function provisionDatabase(
  config: Pick<Config, 'databaseUrl' | 'embeddedPostgres'>,
  log: (line: string) => void = () => {},
): Promise<ProvisionedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, source: 'DATABASE_URL', stop: async () => {} };
  const pg = await startEmbeddedPostgres({ ...config.embeddedPostgres, log });
  return { url: pg.url, source: 'embedded', stop: () => pg.stop() };
}
