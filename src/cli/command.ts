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
