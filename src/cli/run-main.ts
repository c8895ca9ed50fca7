// Shared top level of every command: expected failures print one clear message, never a stack.
import { ConfigError } from '../config';
import { StartupError } from '../errors';
import { TypedError } from 'idempotent-sagas/store';
import { EnvironmentUnavailableError } from 'idempotent-sagas/testing';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that could not do what it was asked (an unknown ID, a saga not stuck): `error: …`, exit 1. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
}

export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      if (err instanceof UsageError || err instanceof ConfigError) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof EnvironmentUnavailableError || err instanceof TypedError || err instanceof StartupError || err instanceof CommandFailed) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** Resolves with the first SIGINT or SIGTERM: a long-running service's entry point waits on it, then stops in order. */
export function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
