// Option parsers shared by the commands (commander): a bad value is a UsageError (`error: …`, exit 2, no stack).
import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import { UsageError } from './run-main';

const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** An integer option from `min` to `max`. */
export function integer(what: string, min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw.trim());
    if (!INTEGER.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}.`);
    }
    return value;
  };
}

/** A non-negative decimal option from `min` to `max` (e.g. seconds, or a rate from 0 to 1). */
export function decimal(what: string, min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw.trim());
    if (!DECIMAL.test(raw.trim()) || value < min || value > max) throw new InvalidArgumentError(`${what} must be a number from ${min} to ${max}.`);
    return value;
  };
}

/**
 * Parses `argv` with `program` (configured here to print nothing itself). Returns 'help' when help was
 * shown (written to `out`); a parse error becomes a UsageError that points at --help.
 */
export function parseCommand(program: Command, argv: readonly string[], out: (text: string) => void): 'help' | 'parsed' {
  program
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: () => {}, outputError: () => {} });
  try {
    program.parse([...argv], { from: 'user' });
    return 'parsed';
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 'help';
      throw new UsageError(`${err.message.replace(/^error:\s*/, '')} (see --help)`);
    }
    throw err;
  }
}
