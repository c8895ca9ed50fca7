// `npm run chaos` options. Intervals are mean seconds between two faults of a kind (each wait is drawn
// from 0.5× to 1.5× the mean with the seed); 0 turns that kind off.
import { Command, InvalidArgumentError } from 'commander';
import { decimal, integer, parseCommand } from '../cli/options';

export type ChaosOptions = {
  orders: number;
  /** The chaos phase lasts at least this long: orders are spread over it, faults run until it ends and every order is accepted. */
  durationS: number;
  /** Orders whose requests are in flight at once. */
  concurrency: number;
  workers: number;
  workerKillEveryS: number;
  /** Where Temporal runs: a dev server persisted to a file (`dev`), or a cluster of service processes on Postgres (`cluster`). */
  temporal: 'dev' | 'cluster';
  /** A dev server's restarts. */
  temporalRestartEveryS: number;
  /** On a cluster: SIGKILLs of a frontend, of a history and of a matching process, each kind on its own schedule. */
  temporalServiceKillEveryS: number;
  gatewayRestartEveryS: number;
  pgTerminateEveryS: number;
  /** After the chaos phase, how long every saga may take to reach a terminal state. */
  drainTimeoutS: number;
  seed: number;
  /** Keep the run's database (and Temporal file) even when every invariant holds. */
  keep: boolean;
  /** Retention (s) of step records, counted from their saga's close, and of webhook events; undefined = the services' default. */
  ttlS: number | undefined;
  /** The harness runs cleanup this often (s); 0 = never. */
  cleanupEveryS: number;
  /** Every refund fails (503) for this long (s), starting a quarter into the chaos phase; 0 = no outage. The harness then retries stuck sagas as an operator. */
  refundOutageS: number;
  /** false (--no-natural-keys): the run's database has no natural-key unique constraints. */
  naturalKeys: boolean;
  /** The gateway applies every charge request, ignoring Idempotency-Key (its unique key dropped too); the charge runs as the at-most-once step kind. */
  providerIgnoresKeys: boolean;
  /** The events too: NATS of the run's own, two relays and two shipping consumers as processes, with their own faults and invariant. */
  events: boolean;
  /** With --events: SIGKILLs of a relay, of a consumer, and restarts of NATS. */
  relayKillEveryS: number;
  consumerKillEveryS: number;
  natsRestartEveryS: number;
};

/** Without --duration the chaos phase lasts this long per order (at least MIN_AUTO_DURATION_S), so faults overlap the sagas. */
export const AUTO_DURATION_S_PER_ORDER = 0.3;
export const MIN_AUTO_DURATION_S = 30;

export const DEFAULT_CHAOS_OPTIONS: Omit<ChaosOptions, 'durationS'> = {
  orders: 200,
  concurrency: 8,
  workers: 2,
  workerKillEveryS: 4,
  temporal: 'dev',
  temporalRestartEveryS: 25,
  temporalServiceKillEveryS: 12,
  gatewayRestartEveryS: 15,
  pgTerminateEveryS: 6,
  drainTimeoutS: 300,
  seed: 1,
  keep: false,
  ttlS: undefined,
  cleanupEveryS: 5,
  refundOutageS: 0,
  naturalKeys: true,
  providerIgnoresKeys: false,
  events: false,
  relayKillEveryS: 8,
  consumerKillEveryS: 10,
  natsRestartEveryS: 20,
};

const MAX_INTERVAL_S = 3600;

function temporalKind(raw: string): 'dev' | 'cluster' {
  if (raw === 'dev' || raw === 'cluster') return raw;
  throw new InvalidArgumentError(`--temporal must be dev or cluster, got "${raw}"`);
}

export function parseChaosOptions(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): ChaosOptions | 'help' {
  const d = DEFAULT_CHAOS_OPTIONS;
  const interval = (flag: string, what: string, value: number): [string, string, (raw: string) => number, number] => [
    `${flag} <seconds>`,
    `mean seconds between ${what} (0 = never, up to ${MAX_INTERVAL_S})`,
    decimal(flag, 0, MAX_INTERVAL_S),
    value,
  ];
  const program = new Command('chaos')
    .description(
      'Runs Postgres, a Temporal dev server persisted to a file, the payment gateway, several workers and the API as ' +
        'separate processes; places orders over HTTP (each request sent one to three times, some concurrently) while ' +
        'it SIGKILLs and restarts workers, restarts Temporal and the gateway, and terminates Postgres backends; then ' +
        'drains and checks every invariant of DESIGN §6. Exits 0 only when they all hold.',
    )
    .option('--orders <n>', 'orders to place (1..100000)', integer('--orders', 1, 100_000), d.orders)
    .option(
      '--duration <seconds>',
      `minimum length of the chaos phase; orders are spread over it (1..86400; default ${AUTO_DURATION_S_PER_ORDER} s per order, at least ${MIN_AUTO_DURATION_S})`,
      decimal('--duration', 1, 86_400),
    )
    .option('--concurrency <n>', 'orders whose requests are in flight at once (1..200)', integer('--concurrency', 1, 200), d.concurrency)
    .option('--workers <n>', 'worker processes (2..16)', integer('--workers', 2, 16), d.workers)
    .option(...interval('--worker-kill-every', 'worker SIGKILLs', d.workerKillEveryS))
    .option(
      '--temporal <kind>',
      'dev: a Temporal dev server persisted to a file; cluster: frontend, two history, matching and worker processes on Postgres',
      temporalKind,
      d.temporal,
    )
    .option(...interval('--temporal-restart-every', 'Temporal dev server restarts', d.temporalRestartEveryS))
    .option(...interval('--temporal-service-kill-every', 'SIGKILLs of each kind of cluster service (frontend, history, matching)', d.temporalServiceKillEveryS))
    .option(...interval('--gateway-restart-every', 'gateway restarts', d.gatewayRestartEveryS))
    .option(...interval('--pg-terminate-every', 'rounds of pg_terminate_backend', d.pgTerminateEveryS))
    .option(
      '--drain-timeout <seconds>',
      'how long the sagas may take to finish after the chaos phase (1..86400)',
      decimal('--drain-timeout', 1, 86_400),
      d.drainTimeoutS,
    )
    .option('--seed <n>', 'seeds the orders, their duplicates and the fault schedule (0..4294967295)', integer('--seed', 0, 2 ** 32 - 1), d.seed)
    .option('--keep', 'keep the run database and Temporal file even when every invariant holds', d.keep)
    .option(
      '--ttl <seconds>',
      "retention of step records after their saga closes, and of webhook events (1..86400; default: the services' 24 h)",
      integer('--ttl', 1, 86_400),
    )
    .option(
      '--cleanup-every <seconds>',
      `run cleanup this often (0 = never, up to ${MAX_INTERVAL_S})`,
      decimal('--cleanup-every', 0, MAX_INTERVAL_S),
      d.cleanupEveryS,
    )
    .option(
      '--no-natural-keys',
      'migrate the run database without the natural-key unique constraints that back the store up (a store failure then shows as a duplicate row)',
    )
    .option(
      '--provider-ignores-keys',
      'the gateway applies every charge request it receives, ignoring Idempotency-Key; the order saga charges at most once (a retry after an ambiguous answer looks the charge up instead of sending again)',
      d.providerIgnoresKeys,
    )
    .option(
      '--refund-outage <seconds>',
      'every refund fails for this long, from a quarter into the chaos phase; stuck sagas are then retried as an operator (0..3600)',
      decimal('--refund-outage', 0, 3600),
      d.refundOutageS,
    )
    .option(
      '--events',
      "also run the events: NATS JetStream of the run's own, two outbox relays and two shipping consumers as processes, SIGKILLed and restarted; then checks every terminal order was shipped or cancelled exactly once",
      d.events,
    )
    .option(...interval('--relay-kill-every', 'relay SIGKILLs (with --events)', d.relayKillEveryS))
    .option(...interval('--consumer-kill-every', 'shipping consumer SIGKILLs (with --events)', d.consumerKillEveryS))
    .option(...interval('--nats-restart-every', 'NATS restarts (with --events)', d.natsRestartEveryS));
  if (parseCommand(program, argv, out) === 'help') return 'help';
  const o = program.opts<{
    orders: number;
    duration: number | undefined;
    concurrency: number;
    workers: number;
    workerKillEvery: number;
    temporal: 'dev' | 'cluster';
    temporalRestartEvery: number;
    temporalServiceKillEvery: number;
    gatewayRestartEvery: number;
    pgTerminateEvery: number;
    drainTimeout: number;
    seed: number;
    keep: boolean;
    ttl: number | undefined;
    cleanupEvery: number;
    refundOutage: number;
    naturalKeys: boolean;
    providerIgnoresKeys: boolean;
    events: boolean;
    relayKillEvery: number;
    consumerKillEvery: number;
    natsRestartEvery: number;
  }>();
  return {
    orders: o.orders,
    durationS: o.duration ?? Math.max(MIN_AUTO_DURATION_S, Math.ceil(o.orders * AUTO_DURATION_S_PER_ORDER)),
    concurrency: o.concurrency,
    workers: o.workers,
    workerKillEveryS: o.workerKillEvery,
    temporal: o.temporal,
    temporalRestartEveryS: o.temporalRestartEvery,
    temporalServiceKillEveryS: o.temporalServiceKillEvery,
    gatewayRestartEveryS: o.gatewayRestartEvery,
    pgTerminateEveryS: o.pgTerminateEvery,
    drainTimeoutS: o.drainTimeout,
    seed: o.seed,
    keep: o.keep,
    ttlS: o.ttl,
    cleanupEveryS: o.cleanupEvery,
    refundOutageS: o.refundOutage,
    naturalKeys: o.naturalKeys,
    providerIgnoresKeys: o.providerIgnoresKeys,
    events: o.events,
    relayKillEveryS: o.relayKillEvery,
    consumerKillEveryS: o.consumerKillEvery,
    natsRestartEveryS: o.natsRestartEvery,
  };
}
