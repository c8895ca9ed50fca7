// The application's own errors (the gateway client's, start-up), each with a stable `type` string.
// The core's errors (store, keys, business failures) come from the library: idempotent-sagas/store.
import { TypedError } from 'idempotent-sagas/store';

export const GatewayErrorType = {
  /** The gateway may or may not have applied the call (timeout, 5xx, dropped connection). Retry with the same key. */
  GatewayAmbiguous: 'GATEWAY_AMBIGUOUS',
  /** The gateway refuses the key: a refund-by-key tombstoned it before any charge arrived. */
  GatewayKeyAborted: 'GATEWAY_KEY_ABORTED',
  /** The gateway definitively refused the request (invalid, or the key was used with another body). */
  GatewayRejected: 'GATEWAY_REJECTED',
} as const;

/** Why a gateway answer is ambiguous: the call may have been applied, so only a retry with the same key is safe. */
export type GatewayAmbiguityReason = 'timeout' | 'server_error' | 'connection' | 'in_progress' | 'malformed_response';

/** The gateway may or may not have applied the call: retry with the same key. */
export class GatewayAmbiguousError extends TypedError {
  constructor(
    readonly reason: GatewayAmbiguityReason,
    message: string,
    /** HTTP status when the gateway answered at all. */
    readonly status?: number,
  ) {
    super(GatewayErrorType.GatewayAmbiguous, true, message);
  }
}

/** The gateway refuses the key: a refund by key tombstoned it before any charge arrived. */
export class GatewayKeyAbortedError extends TypedError {
  constructor(readonly key: string) {
    super(GatewayErrorType.GatewayKeyAborted, false, `the gateway refuses key ${JSON.stringify(key)}: it was tombstoned by a refund before any charge`);
  }
}

/** The gateway definitively refused the request. */
export class GatewayRejectedError extends TypedError {
  constructor(
    readonly status: number,
    /** The gateway's stable error string, e.g. `idempotency_key_reused`, `invalid_request`. */
    readonly error: string,
    message: string,
  ) {
    super(GatewayErrorType.GatewayRejected, false, message);
  }
}

/** A service a command needs could not be started or reached; the message says what and what to do. Printed as `error: …`, exit 1. */
export class StartupError extends Error {
  override readonly name: string = 'StartupError';
}
