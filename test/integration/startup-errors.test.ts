// Every entry point that fails to start says why in one line naming the setting, never with a stack:
// an unreachable database (DATABASE_URL, its password never printed), an unreachable Temporal
// (TEMPORAL_ADDRESS); bad settings get a line each, naming the variable.
import { createEmptyDatabase } from '../helpers/database';
import { freePort, runScript } from '../helpers/processes';
import { TEMPORAL_ADDRESS_VAR } from '../helpers/test-env';

const UNREACHABLE_DB = 'postgres://postgres:s3cret@127.0.0.1:1/nowhere';
const ENTRY_POINTS = ['src/cli/db-migrate.ts', 'src/cli/db-cleanup.ts', 'apps/worker/main.ts', 'apps/orders/api/main.ts'];

/** stderr without the JSON log lines (pino logs go to stderr too). */
const messages = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{'));

test.each(ENTRY_POINTS)('%s with an unreachable DATABASE_URL: one line naming it, without the password; exit 1', async (script) => {
  const run = await runScript(script, [], { DATABASE_URL: UNREACHABLE_DB, TEMPORAL_ADDRESS: '127.0.0.1:1', PORT: String(await freePort()) });
  expect({ code: run.code, messages: messages(run.stderr) }).toEqual({
    code: 1,
    messages: [expect.stringMatching(/^error: cannot reach Postgres at DATABASE_URL=postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere: .*ECONNREFUSED/)],
  });
  expect(run.stderr + run.stdout).not.toContain('s3cret');
});

test.each(['apps/worker/main.ts', 'apps/orders/api/main.ts'])(
  '%s with an unreachable TEMPORAL_ADDRESS: one line naming it; exit 1',
  async (script) => {
    const db = await createEmptyDatabase();
    try {
      const run = await runScript(script, [], { DATABASE_URL: db.url, TEMPORAL_ADDRESS: '127.0.0.1:1', PORT: String(await freePort()) });
      expect({ code: run.code, messages: messages(run.stderr) }).toEqual({
        code: 1,
        messages: [expect.stringMatching(/^error: cannot reach Temporal at TEMPORAL_ADDRESS=127\.0\.0\.1:1 \(plaintext\): /)],
      });
    } finally {
      await db.drop();
    }
  },
  60_000,
);

test('the worker with TEMPORAL_API_KEY against a server without TLS: one line saying it tried TLS with an API key, never the key', async () => {
  const db = await createEmptyDatabase();
  try {
    const address = process.env[TEMPORAL_ADDRESS_VAR]!;
    const run = await runScript('apps/worker/main.ts', [], { DATABASE_URL: db.url, TEMPORAL_ADDRESS: address, TEMPORAL_API_KEY: 'key-not-to-print' });
    // Node warns that TLS to an IP address sends no server name (a real deployment names a host): not ours.
    const ours = messages(run.stderr).filter((l) => !/^\(node:\d+\) \[DEP0123\]|^\(Use `node --trace-deprecation/.test(l));
    expect({ code: run.code, messages: ours }).toEqual({
      code: 1,
      messages: [expect.stringContaining(`error: cannot reach Temporal at TEMPORAL_ADDRESS=${address} (TLS, API key): `)],
    });
    expect(run.stderr + run.stdout).not.toContain('key-not-to-print');
  } finally {
    await db.drop();
  }
}, 60_000);

test.each(ENTRY_POINTS)('%s with bad settings: a line per variable, naming it and the value; exit 2, before any connection', async (script) => {
  const run = await runScript(script, [], { DATABASE_URL: UNREACHABLE_DB, PG_POOL_MAX: 'lots', CLEANUP_BATCH_SIZE: '0' });
  expect({ code: run.code, messages: messages(run.stderr) }).toEqual({
    code: 2,
    messages: [
      'error: Invalid configuration:',
      expect.stringMatching(/^ {2}PG_POOL_MAX: .*\(got "lots"\)$/),
      expect.stringMatching(/^ {2}CLEANUP_BATCH_SIZE: .*\(got "0"\)$/),
    ],
  });
});
