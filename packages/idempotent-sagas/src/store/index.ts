// idempotent-sagas/store: the Postgres idempotency store, its migrations, cleanup and counters.
export * from './store';
export * from './counters';
export * from './cleanup-loop';
export { canonicalJson, fingerprint, type Json } from './fingerprint';
export type { IdempotencyRecord, Queryable, RecordStatus, StoredFailure } from './records';
export { bothOrThrow, sendInOrder, withClient, withTransaction } from './pg';
export { STORE_MIGRATIONS, migrate, runMigrationSet, type MigrateOptions, type MigrationSet } from './migrate';
export * from '../errors';
export {
  KEY_PATTERN,
  SCOPE_PATTERN,
  STEP_ID_PATTERN,
  compensationKey,
  forwardKey,
  keyBelongsTo,
  stepKeys,
  validateKey,
  validateScope,
  validateStepId,
  type StepKeys,
} from '../keys';
