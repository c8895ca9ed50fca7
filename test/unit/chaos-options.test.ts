// `npm run chaos` options: defaults, the chaos phase's length derived from the order count, and refusals.
import { UsageError } from '../../src/cli/run-main';
import { DEFAULT_CHAOS_OPTIONS, parseChaosOptions } from '../../src/chaos/options';

const parse = (...argv: string[]): ReturnType<typeof parseChaosOptions> => parseChaosOptions(argv, () => {});

test('defaults: 200 orders over 60 s (0.3 s each), two workers, every fault kind on', () => {
  const options = parse();
  expect(options).toEqual({ ...DEFAULT_CHAOS_OPTIONS, durationS: 60 });
  expect(options).toMatchObject({ orders: 200, workers: 2, naturalKeys: true, providerIgnoresKeys: false, keep: false });
  for (const every of ['workerKillEveryS', 'temporalRestartEveryS', 'gatewayRestartEveryS', 'pgTerminateEveryS'] as const) {
    expect(DEFAULT_CHAOS_OPTIONS[every]).toBeGreaterThan(0);
  }
});

test('--no-natural-keys switches the second line of defence off', () => {
  expect(parse('--no-natural-keys')).toMatchObject({ naturalKeys: false, providerIgnoresKeys: false });
  expect(parse('--no-natural-keys', '--provider-ignores-keys')).toMatchObject({ naturalKeys: false, providerIgnoresKeys: true });
});

test('time compressed: --ttl, --cleanup-every and --refund-outage', () => {
  expect(parse('--ttl', '5', '--cleanup-every', '1', '--refund-outage', '30')).toMatchObject({ ttlS: 5, cleanupEveryS: 1, refundOutageS: 30 });
  expect(parse('--cleanup-every', '0')).toMatchObject({ cleanupEveryS: 0 });
});

test('without --duration the chaos phase grows with the orders, never below 30 s; --duration wins', () => {
  expect(parse('--orders', '500')).toMatchObject({ orders: 500, durationS: 150 });
  expect(parse('--orders', '10')).toMatchObject({ durationS: 30 });
  expect(parse('--orders', '500', '--duration', '12.5')).toMatchObject({ durationS: 12.5 });
});

test('--temporal cluster: its services are killed on their own schedule; a dev server by default', () => {
  expect(parse()).toMatchObject({ temporal: 'dev', temporalServiceKillEveryS: 12 });
  expect(parse('--temporal', 'cluster', '--temporal-service-kill-every', '5')).toMatchObject({ temporal: 'cluster', temporalServiceKillEveryS: 5 });
});

test('--events adds the event services, each with its own kill schedule; off by default', () => {
  expect(parse()).toMatchObject({ events: false, relayKillEveryS: 8, consumerKillEveryS: 10, natsRestartEveryS: 20 });
  expect(parse('--events', '--relay-kill-every', '3', '--consumer-kill-every', '0', '--nats-restart-every', '7.5')).toMatchObject({
    events: true,
    relayKillEveryS: 3,
    consumerKillEveryS: 0,
    natsRestartEveryS: 7.5,
  });
});

test('0 turns a fault kind off; fractional seconds are allowed', () => {
  expect(parse('--worker-kill-every', '0', '--temporal-restart-every', '0.5', '--keep')).toMatchObject({
    workerKillEveryS: 0,
    temporalRestartEveryS: 0.5,
    keep: true,
  });
});

test.each([
  [['--pg-terminate-every', '4000'], '--pg-terminate-every must be a number from 0 to 3600.'],
  [['--gateway-restart-every', '1e3'], '--gateway-restart-every must be a number from 0 to 3600.'],
  [['--drain-timeout', '0'], '--drain-timeout must be a number from 1 to 86400.'],
  [['--ttl', '0'], '--ttl must be an integer from 1 to 86400.'],
  [['--refund-outage', 'soon'], '--refund-outage must be a number from 0 to 3600.'],
  [['--concurrency', '201'], '--concurrency must be an integer from 1 to 200.'],
  [['--workers', '17'], '--workers must be an integer from 2 to 16.'],
  [['extra'], 'too many arguments. Expected 0 arguments but got 1.'],
  [['--temporal', 'k8s'], '--temporal must be dev or cluster, got "k8s"'],
  [['--temporal-service-kill-every', '4000'], '--temporal-service-kill-every must be a number from 0 to 3600.'],
  [['--relay-kill-every', '-1'], '--relay-kill-every must be a number from 0 to 3600.'],
  [['--nats-restart-every', 'often'], '--nats-restart-every must be a number from 0 to 3600.'],
])('%j is a UsageError naming the option and its range', (argv, message) => {
  expect(() => parse(...argv)).toThrow(UsageError);
  expect(() => parse(...argv)).toThrow(message);
});

test('--help prints the options and parses nothing', () => {
  let help = '';
  expect(parseChaosOptions(['--help'], (t) => (help += t))).toBe('help');
  expect(help).toContain('--worker-kill-every <seconds>');
  expect(help).toContain('--temporal-restart-every <seconds>');
});
