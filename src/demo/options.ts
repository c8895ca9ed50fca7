// `npm run demo` options, parsed with commander. A bad value is a UsageError: `error: …`, exit 2, no stack.
import { Command } from 'commander';
import { decimal, integer, parseCommand } from '../cli/options';

export type DemoOptions = {
  orders: number;
  concurrency: number;
  faultRate: number;
  seed: number;
};

export const DEFAULT_OPTIONS: DemoOptions = { orders: 50, concurrency: 10, faultRate: 0.3, seed: 1 };

export const LIMITS = { maxOrders: 100_000, maxConcurrency: 500, maxSeed: 2 ** 32 - 1 } as const;

/** Output of --help goes to `out`; parse errors become a UsageError (commander prints nothing itself). */
export function parseDemoOptions(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): DemoOptions | 'help' {
  const program = new Command('demo')
    .description(
      'Places orders through the order saga with injected faults (declines, out of stock, transient 5xx, ' +
        'apply-then-timeout, dropped connections, a gateway that stays down, a failure after the charge), ' +
        'then checks every invariant of DESIGN §6 by code. Exits 0 only when they all hold.',
    )
    .option('--orders <n>', `orders to place (1..${LIMITS.maxOrders})`, integer('--orders', 1, LIMITS.maxOrders), DEFAULT_OPTIONS.orders)
    .option(
      '--concurrency <n>',
      `orders in flight at once (1..${LIMITS.maxConcurrency})`,
      integer('--concurrency', 1, LIMITS.maxConcurrency),
      DEFAULT_OPTIONS.concurrency,
    )
    .option(
      '--fault-rate <r>',
      'share of orders given a targeted fault; each random gateway fault runs at a quarter of it (0..1)',
      decimal('--fault-rate', 0, 1),
      DEFAULT_OPTIONS.faultRate,
    )
    .option('--seed <n>', `seeds the order plan and the gateway's faults (0..${LIMITS.maxSeed})`, integer('--seed', 0, LIMITS.maxSeed), DEFAULT_OPTIONS.seed);
  if (parseCommand(program, argv, out) === 'help') return 'help';
  const o = program.opts<DemoOptions>();
  return { orders: o.orders, concurrency: o.concurrency, faultRate: o.faultRate, seed: o.seed };
}
