// `npm run demo` options, parsed with commander. A bad value is a UsageError: `error: …`, exit 2, no stack.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UsageError } from '../cli/run-main';

export type DemoOptions = {
  orders: number;
  concurrency: number;
  faultRate: number;
  seed: number;
};

export const DEFAULT_OPTIONS: DemoOptions = { orders: 50, concurrency: 10, faultRate: 0.3, seed: 1 };

export const LIMITS = { maxOrders: 100_000, maxConcurrency: 500, maxSeed: 2 ** 32 - 1 } as const;

const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

function integer(what: string, min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw.trim());
    if (!INTEGER.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}.`);
    }
    return value;
  };
}

function rate(raw: string): number {
  const value = Number(raw.trim());
  if (!DECIMAL.test(raw.trim()) || value < 0 || value > 1) throw new InvalidArgumentError('--fault-rate must be a number from 0 to 1.');
  return value;
}

/** Output of --help goes to `out`; parse errors become a UsageError (commander prints nothing itself). */
export function parseDemoOptions(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): DemoOptions | 'help' {
  const program = new Command('demo')
    .description(
      'Places orders through the order saga with injected faults (declines, out of stock, transient 5xx, ' +
        'apply-then-timeout, dropped connections, a gateway that stays down, a failure after the charge), ' +
        'then checks every invariant of DESIGN §6 by code. Exits 0 only when they all hold.',
    )
    .option('--orders <n>', `orders to place (1..${LIMITS.maxOrders})`, integer('--orders', 1, LIMITS.maxOrders), DEFAULT_OPTIONS.orders)
    .option('--concurrency <n>', `orders in flight at once (1..${LIMITS.maxConcurrency})`, integer('--concurrency', 1, LIMITS.maxConcurrency), DEFAULT_OPTIONS.concurrency)
    .option('--fault-rate <r>', 'share of orders given a targeted fault; each random gateway fault runs at a quarter of it (0..1)', rate, DEFAULT_OPTIONS.faultRate)
    .option('--seed <n>', `seeds the order plan and the gateway's faults (0..${LIMITS.maxSeed})`, integer('--seed', 0, LIMITS.maxSeed), DEFAULT_OPTIONS.seed)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: () => {}, outputError: () => {} });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 'help';
      throw new UsageError(`${err.message.replace(/^error:\s*/, '')} (see --help)`);
    }
    throw err;
  }
  const o = program.opts<DemoOptions>();
  return { orders: o.orders, concurrency: o.concurrency, faultRate: o.faultRate, seed: o.seed };
}
