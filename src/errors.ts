// Every error the project raises on purpose, each with a stable `type` string.
// Across the Temporal activity boundary only the type survives: check `err.cause.type`, not instanceof.

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
  /** The gateway may or may not have applied the call (timeout, 5xx, dropped connection). Retry with the same key. */
  GatewayAmbiguous: 'GATEWAY_AMBIGUOUS',
  /** The gateway refuses the key: a refund-by-key tombstoned it before any charge arrived. */
  GatewayKeyAborted: 'GATEWAY_KEY_ABORTED',
  /** The gateway definitively refused the request (invalid, or the key was used with another body). */
  GatewayRejected: 'GATEWAY_REJECTED',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

export abstract class TypedError extends Error {
  abstract readonly type: string;
  /** Whether retrying the same call can succeed. */
  abstract readonly retryable: boolean;
}

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

/** Why a gateway answer is ambiguous: the call may have been applied, so only a retry with the same key is safe. */
export type GatewayAmbiguityReason = 'timeout' | 'server_error' | 'connection' | 'in_progress' | 'malformed_response';

export class GatewayAmbiguousError extends TypedError {
  override readonly name = 'GatewayAmbiguousError';
  readonly type = ErrorType.GatewayAmbiguous;
  readonly retryable = true;
  constructor(
    readonly reason: GatewayAmbiguityReason,
    message: string,
    /** HTTP status when the gateway answered at all. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export class GatewayKeyAbortedError extends TypedError {
  override readonly name = 'GatewayKeyAbortedError';
  readonly type = ErrorType.GatewayKeyAborted;
  readonly retryable = false;
  constructor(readonly key: string) {
    super(`the gateway refuses key ${JSON.stringify(key)}: it was tombstoned by a refund before any charge`);
  }
}

export class GatewayRejectedError extends TypedError {
  override readonly name = 'GatewayRejectedError';
  readonly type = ErrorType.GatewayRejected;
  readonly retryable = false;
  constructor(
    readonly status: number,
    /** The gateway's stable error string, e.g. `idempotency_key_reused`, `invalid_request`. */
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** A service a command needs could not be started or reached; the message says what and what to do. Printed as `error: …`, exit 1. */
export class StartupError extends Error {
  override readonly name: string = 'StartupError';
}
