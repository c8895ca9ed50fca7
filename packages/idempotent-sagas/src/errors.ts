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
  /** An effect committed while its key's insert was refused before reaching the server; an operator must reconcile. */
  EffectWithoutKey: 'IDEMPOTENCY_EFFECT_WITHOUT_KEY',
} as const;

/** One of ErrorType's values. */
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** The base of the errors the core raises on purpose: a stable `type` and whether a retry can succeed. */
export abstract class TypedError extends Error {
  constructor(
    /** The stable type, which survives the activity boundary. */
    readonly type: string,
    /** Whether retrying the same call can succeed. */
    readonly retryable: boolean,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A key, scope or value handed to the store is malformed; nothing was written. */
export class InvalidInputError extends TypedError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(ErrorType.InvalidInput, false, `${field}: ${message}`);
  }
}

/** An error about one record, named by its scope and key. */
export abstract class KeyError extends TypedError {
  constructor(
    readonly scope: string,
    readonly key: string,
    type: ErrorTypeName,
    retryable: boolean,
    what: string,
  ) {
    super(type, retryable, `key ${JSON.stringify(key)} in scope ${scope} ${what}`);
  }
}

/** The key was first used with a different request; nothing was written. */
export class FingerprintMismatchError extends KeyError {
  constructor(scope: string, key: string) {
    super(scope, key, ErrorType.FingerprintMismatch, false, 'was first used with a different request');
  }
}

/** The key carries a compensation tombstone: the forward effect must never apply. */
export class KeyAbortedError extends KeyError {
  constructor(scope: string, key: string) {
    super(scope, key, ErrorType.KeyAborted, false, 'was aborted by a compensation; the effect will not apply');
  }
}

/** Another attempt holds a live lease on the key (or is mid-transaction): retry after `retryAfterMs`. */
export class InProgressError extends KeyError {
  constructor(
    scope: string,
    key: string,
    /** Milliseconds until the holder's lease expires (0 when unknown or already due). */
    readonly retryAfterMs: number,
  ) {
    super(scope, key, ErrorType.InProgress, true, `is in progress; retry in ${retryAfterMs} ms`);
  }
}

/** A write by an attempt whose fencing epoch is no longer current; it changed nothing. */
export class StaleEpochError extends KeyError {
  constructor(
    scope: string,
    key: string,
    readonly epoch: number,
  ) {
    super(scope, key, ErrorType.StaleEpoch, false, `refused the write of epoch ${epoch}, fenced off by a newer attempt; nothing changed`);
  }
}

/**
 * A first attempt's effect committed but its key row did not: the row's insert was refused by the client
 * before it reached the server (a statement-name clash on the pool, say) while the COMMIT behind it went
 * through. Not retryable — a retry would apply the effect again; an operator reconciles it.
 */
export class EffectWithoutKeyError extends KeyError {
  constructor(scope: string, key: string, cause: unknown) {
    super(
      scope,
      key,
      ErrorType.EffectWithoutKey,
      false,
      `applied its effect but its record was not written (${cause instanceof Error ? cause.message : String(cause)})`,
    );
  }
}

/** A new step record for a saga that has closed: a late attempt, refused; nothing changed. */
export class SagaClosedError extends TypedError {
  constructor(
    readonly sagaId: string,
    readonly key: string,
  ) {
    super(ErrorType.SagaClosed, false, `saga ${JSON.stringify(sagaId)} has closed: key ${JSON.stringify(key)} gets no new record; nothing changed`);
  }
}

/**
 * A definitive business outcome (card declined, out of stock). Stored with the key and
 * raised again, identically, for every duplicate. `type` is chosen by the domain.
 */
export class BusinessFailure extends TypedError {
  constructor(
    type: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** True when this failure was read back from the store rather than produced now. */
    readonly replayed = false,
  ) {
    super(type, false, message);
  }
}
