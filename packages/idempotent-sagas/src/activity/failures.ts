// Maps the store's and the gateway's typed errors onto Temporal failures with stable types.
// Business outcomes and refusals are non-retryable; "try again later" carries its delay.
import { ApplicationFailure } from '@temporalio/common';
import { BusinessFailure, InProgressError, TypedError } from '../errors';

/** The Temporal failure for a typed error (business failures non-retryable, in-progress with its delay); anything else as it is. */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof BusinessFailure) {
    return ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: true, details: [err.details] });
  }
  if (err instanceof InProgressError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.type,
      nonRetryable: false,
      nextRetryDelay: Math.max(100, Math.min(err.retryAfterMs, 30_000)),
    });
  }
  if (err instanceof TypedError) {
    return ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: !err.retryable });
  }
  return err; // infrastructure: retryable by default
}

/** Runs an activity body, translating typed errors on the way out. */
export async function translated<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
