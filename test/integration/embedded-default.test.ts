// With no DATABASE_URL the project boots its embedded PostgreSQL, migrates, and runs the store on it.
import fs from 'node:fs';
import path from 'node:path';
import { freePort, lastJsonLine, ROOT, runScript } from '../helpers/processes';

test('the store demonstration on the embedded default', async () => {
  const dataDir = path.join(ROOT, '.data', `test-embedded-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  try {
    const env = { EMBEDDED_PG_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    const first = await runScript('src/cli/store-demo.ts', [], env, 180_000);
    expect(first.code).toBe(0);
    const summary = lastJsonLine(first.stdout);
    expect(summary).toMatchObject({
      source: 'embedded',
      duplicateCalls: 50,
      duplicateEffects: 1,
      lateForwardEffects: 0,
      mismatch: 'IDEMPOTENCY_FINGERPRINT_MISMATCH',
      staleLeaseWrite: 'IDEMPOTENCY_STALE_EPOCH',
      invariantsHeld: true,
    });
    expect(fs.existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    // The second start reuses the initialised data directory and the applied migrations.
    const second = await runScript('src/cli/db-migrate.ts', [], env, 120_000);
    expect(second.code).toBe(0);
    expect(lastJsonLine(second.stdout)).toEqual({ source: 'embedded', applied: [] });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a port taken by another program gives a clear message and a non-zero exit', async () => {
  const dataDir = path.join(ROOT, '.data', `test-embedded-busy-${process.pid}`);
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const result = await runScript('src/cli/db-migrate.ts', [], { EMBEDDED_PG_DIR: dataDir, EMBEDDED_PG_PORT: String(port) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Port ${port} is taken`);
    expect(result.stderr).toContain('DATABASE_URL');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  } finally {
    server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a bad variable stops start-up with a message naming it', async () => {
  const result = await runScript('src/cli/db-migrate.ts', [], { DATABASE_URL: 'not-a-url' });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('DATABASE_URL');
  expect(result.stderr).not.toMatch(/\n\s+at /);
});
