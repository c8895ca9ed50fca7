// idempotent-sagas/activity: what activity code imports: input validation, the own-key check, the
// lease owner of an attempt, and the translation of typed errors into Temporal failures.
export { ActivityErrorType, assertOwnKey, attemptOwner, ownSagaId, parseInput } from './context';
export { toActivityFailure, translated } from './failures';
export { BusinessFailure, InProgressError, TypedError } from '../errors';
