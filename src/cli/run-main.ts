// Shared top level of every command: expected failures print one clear message, never a stack.
import { ConfigError } from '../config';
import { EmbeddedPostgresError } from '../db/embedded';
import { StartupError } from '../errors';
import { TypedError } from 'idempotent-sagas/store';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      if (err instanceof UsageError || err instanceof ConfigError) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof EmbeddedPostgresError || err instanceof TypedError || err instanceof StartupError) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
