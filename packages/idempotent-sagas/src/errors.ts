// The errors the saga and store core raise on purpose, each with a stable `type` string.
// Across the Temporal activity boundary only the type survives: check `err.cause.type`, not instanceof.

/** The stable `type` of each error the store raises. */
export const ErrorType = {
  /** A key, scope or value handed to the store is malformed; nothing was written. */
  InvalidInput: 'INVALID_INPUT',
  /** The same key arrived with a different request fingerprint. */
  FingerprintMismatch: 'IDEMPOTENCY_FINGERPRINT_MISMATCH',
  /** The key carries a compensation tombstone: the forward effect must never apply. */
  KeyAborted: 'IDEMPOTENCY_KEY_ABORTED',
  /** Another attempt holds a live lease on the key (or is mid-transaction). Retryable. */
  InProgress: 'IDEMPOTENCY_IN_PROGRESS',
  /** A write by an attempt whose fencing epoch is no longer current; it changed nothing. */
  StaleEpoch: 'IDEMPOTENCY_STALE_EPOCH',
  /** A new step record for a saga that has already closed: a late attempt, refused; nothing changed. */
  SagaClosed: 'IDEMPOTENCY_SAGA_CLOSED',
} as const;

/** One of ErrorType's values. */
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** The base of the errors the core raises on purpose: a stable `type` and whether a retry can succeed. */
export abstract class TypedError extends Error {
  abstract readonly type: string;
  /** Whether retrying the same call can succeed. */
  abstract readonly retryable: boolean;
}

/** A key, scope or value handed to the store is malformed; nothing was written. */
export class InvalidInputError extends TypedError {
  override readonly name = 'InvalidInputError';
  readonly type = ErrorType.InvalidInput;
  readonly retryable = false;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The key was first used with a different request; nothing was written. */
export class FingerprintMismatchError extends TypedError {
  override readonly name = 'FingerprintMismatchError';
  readonly type = ErrorType.FingerprintMismatch;
  readonly retryable = false;
  constructor(
    readonly scope: string,
    readonly key: string,
  ) {
    super(`key ${JSON.stringify(key)} in scope ${scope} was first used with a different request`);
  }
}

/** The key carries a compensation tombstone: the forward effect must never apply. */
export class KeyAbortedError extends TypedError {
  override readonly name = 'KeyAbortedError';
  readonly type = ErrorType.KeyAborted;
  readonly retryable = false;
  constructor(
    readonly scope: string,
    readonly key: string,
  ) {
    super(`key ${JSON.stringify(key)} in scope ${scope} was aborted by a compensation; the effect will not apply`);
  }
}

/** Another attempt holds a live lease on the key (or is mid-transaction): retry after `retryAfterMs`. */
export class InProgressError extends TypedError {
  override readonly name = 'InProgressError';
  readonly type = ErrorType.InProgress;
  readonly retryable = true;
  constructor(
    readonly scope: string,
    readonly key: string,
    /** Milliseconds until the holder's lease expires (0 when unknown or already due). */
    readonly retryAfterMs: number,
  ) {
    super(`key ${JSON.stringify(key)} in scope ${scope} is in progress; retry in ${retryAfterMs} ms`);
  }
}

/** A write by an attempt whose fencing epoch is no longer current; it changed nothing. */
export class StaleEpochError extends TypedError {
  override readonly name = 'StaleEpochError';
  readonly type = ErrorType.StaleEpoch;
  readonly retryable = false;
  constructor(
    readonly scope: string,
    readonly key: string,
    readonly epoch: number,
  ) {
    super(`write to key ${JSON.stringify(key)} in scope ${scope} by epoch ${epoch} was fenced off; nothing changed`);
  }
}

/** A new step record for a saga that has closed: a late attempt, refused; nothing changed. */
export class SagaClosedError extends TypedError {
  override readonly name = 'SagaClosedError';
  readonly type = ErrorType.SagaClosed;
  readonly retryable = false;
  constructor(
    readonly sagaId: string,
    readonly key: string,
  ) {
    super(`saga ${JSON.stringify(sagaId)} has closed: key ${JSON.stringify(key)} gets no new record; nothing changed`);
  }
}

/**
 * A definitive business outcome (card declined, out of stock). Stored with the key and
 * raised again, identically, for every duplicate. `type` is chosen by the domain.
 */
export class BusinessFailure extends TypedError {
  override readonly name = 'BusinessFailure';
  readonly retryable = false;
  constructor(
    readonly type: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** True when this failure was read back from the store rather than produced now. */
    readonly replayed = false,
  ) {
    super(message);
  }
}
