// `npm run demo` end to end, as a child process: a fresh empty database (the demo migrates it),
// the suite's Temporal dev server, 20 orders with the default faults; and bad options refused.
import { createEmptyDatabase } from '../helpers/database';
import { expectRefusal, lastJsonLine, runScript } from '../helpers/processes';
import { TEMPORAL_ADDRESS_VAR, requireTestEnv } from '../helpers/test-env';

const DEMO = 'src/cli/demo.ts';

test('20 orders with injected faults: every order terminal, nothing charged or reserved twice, every invariant held', async () => {
  const db = await createEmptyDatabase();
  try {
    const env = { DATABASE_URL: db.url, TEMPORAL_ADDRESS: requireTestEnv(TEMPORAL_ADDRESS_VAR) };
    const run = await runScript(DEMO, ['--orders', '20', '--seed', '7'], env, 240_000);
    if (run.code !== 0) throw new Error(`demo exited ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    const summary = lastJsonLine(run.stdout);
    expect(summary).toMatchObject({
      orders: 20,
      nonTerminal: 0,
      doubleCharges: 0,
      doubleReservations: 0,
      invariantsHeld: true,
      seed: 7,
      faultRate: 0.3,
    });
    const { completed, compensated, stuck } = summary as { completed: number; compensated: number; stuck: number };
    expect(completed + compensated + stuck).toBe(20);
    // round(20 × 0.3) = 6 targeted faults, one of each kind: some orders must have been compensated.
    expect(compensated).toBeGreaterThan(0);
    expect(completed).toBeGreaterThan(0);
    expect(run.stdout).toContain('✓ the gateway never holds two charges for one idempotency key');
    expect(run.stdout).not.toContain('✗');
  } finally {
    await db.drop();
  }
}, 300_000);

test.each([
  [['--orders', '0'], /--orders must be an integer from 1 to 100000/],
  [['--fault-rate', '2'], /--fault-rate must be a number from 0 to 1/],
  [['--concurrency', 'x'], /--concurrency must be an integer from 1 to 500/],
  [['--seed', '-3'], /--seed must be an integer/],
  [['--orders', '5', '--verbose'], /unknown option '--verbose'/],
])('%j is refused with exit code 2 and a clear message, no stack trace', async (args, message) => {
  // Options are checked before anything starts: no database or Temporal is needed.
  expectRefusal(await runScript(DEMO, args, {}, 60_000), 2, message);
});
