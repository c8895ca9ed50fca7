// `npm run chaos` end to end, as a child process, about a minute: its own Temporal dev server on a file,
// gateway, two workers and the API as processes, and the events (NATS, relays, shipping consumers); workers,
// Temporal, the gateway, relays, consumers and NATS SIGKILLed and restarted, Postgres backends terminated;
// every invariant must hold. And bad options refused.
import { expectRefusal, freePort, lastJsonLine, runScript } from '../helpers/processes';
import { ADMIN_URL_VAR, requireTestEnv } from '../helpers/test-env';

const CHAOS = 'src/cli/chaos.ts';

test('40 orders through a minute of kills and restarts: nothing double-applied, every saga terminal, every invariant held', async () => {
  // The harness creates (and drops) a database of its own on this server.
  const env = { DATABASE_URL: requireTestEnv(ADMIN_URL_VAR), ...(process.env.TEMPORAL_CLI_PATH && { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH }) };
  // Time compressed too: step records kept 5 s after their saga closes, cleanup every second, every refund failing for 15 s.
  const args = [
    '--orders',
    '40',
    '--duration',
    '45',
    '--worker-kill-every',
    '3',
    '--temporal-restart-every',
    '14',
    '--gateway-restart-every',
    '10',
    '--pg-terminate-every',
    '4',
    '--seed',
    '11',
    '--ttl',
    '5',
    '--cleanup-every',
    '1',
    '--refund-outage',
    '15',
    // The events too: NATS, two relays and two shipping consumers, each SIGKILLed and restarted.
    '--events',
    '--relay-kill-every',
    '6',
    '--consumer-kill-every',
    '7',
    '--nats-restart-every',
    '15',
  ];
  const run = await runScript(CHAOS, args, env, 400_000);
  if (run.code !== 0) throw new Error(`chaos exited ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-5000)}`);
  const report = lastJsonLine(run.stdout);
  expect(report).toMatchObject({ orders: 40, accepted: 40, nonTerminal: 0, doubleCharges: 0, doubleReservations: 0, seed: 11, invariantsHeld: true });
  const n = (k: string): number => report[k] as number;
  expect(n('completed') + n('compensated') + n('stuck')).toBe(40);
  // Every copy is a request, and 40 orders drew duplicates with this seed.
  expect(n('requests')).toBeGreaterThan(40);
  // The faults really happened while the orders flowed.
  expect(n('workerKills')).toBeGreaterThanOrEqual(5);
  expect(n('temporalRestarts')).toBeGreaterThanOrEqual(1);
  expect(n('gatewayRestarts')).toBeGreaterThanOrEqual(1);
  expect(n('pgBackendsTerminated')).toBeGreaterThanOrEqual(1);
  // Cleanup deleted the records of closed sagas as they went, and none of an open one (the database witness).
  expect(n('recordsCleaned')).toBeGreaterThan(0);
  expect(n('liveRecordsDeleted')).toBe(0);
  expect(report).toMatchObject({ stuck: 0, unexpectedExits: 0, ttlSeconds: 5, refundOutageSeconds: 15 });
  // Both outcomes happened, and the kills interrupted work that a later attempt took over (database witness).
  expect(n('completed')).toBeGreaterThan(0);
  expect(n('compensated')).toBeGreaterThan(0);
  expect(n('takeovers')).toBeGreaterThan(0);
  expect(run.stdout).toContain("✓ every closed order workflow's result agrees with its order row");
  expect(run.stdout).toContain('✓ cleanup deleted no record of an open saga');
  expect(run.stdout).toContain('✓ one workflow per accepted order on the run task queue');
  // Every terminal order's event went out and was applied exactly once, through relay, consumer and NATS kills.
  expect(report).toMatchObject({ events: true, eventsMissing: 0, eventsAppliedTwice: 0 });
  expect(n('eventsPublished')).toBe(n('completed') + n('compensated'));
  expect(n('eventsApplied')).toBe(n('eventsPublished'));
  expect(n('relayKills')).toBeGreaterThanOrEqual(1);
  expect(n('consumerKills')).toBeGreaterThanOrEqual(1);
  expect(n('natsRestarts')).toBeGreaterThanOrEqual(1);
  expect(run.stdout).toContain('✓ no event was applied twice');
  expect(run.stdout).not.toContain('✗');
}, 420_000);

test.each([
  [['--orders', '0'], /--orders must be an integer from 1 to 100000/],
  [['--workers', '1'], /--workers must be an integer from 2 to 16/],
  [['--worker-kill-every', '-1'], /--worker-kill-every must be a number from 0 to 3600/],
  [['--duration', 'soon'], /--duration must be a number from 1 to 86400/],
  [['--seed', '1.5'], /--seed must be an integer/],
  [['--orders', '5', '--verbose'], /unknown option '--verbose'/],
])('%j is refused with exit code 2 and a clear message, before anything starts', async (args, message) => {
  expectRefusal(await runScript(CHAOS, args, {}, 60_000), 2, message);
});

test('a DATABASE_URL nobody answers on: exit 1 with a message that names it, no stack trace', async () => {
  const port = await freePort(); // nothing listens there
  const result = await runScript(CHAOS, ['--orders', '5'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres` }, 60_000);
  expectRefusal(
    result,
    1,
    new RegExp(`^error: cannot reach Postgres at DATABASE_URL=postgres://postgres@127\\.0\\.0\\.1:${port}/postgres: .*ECONNREFUSED`, 'm'),
  );
});
