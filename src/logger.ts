// One pino logger per process; entrypoints pass it down. Logs go to stderr so stdout stays the command's output.
import pino, { type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino({ name, level: config.logLevel }, pino.destination(2));
}
