// idempotent-sagas/workflow: what workflow code imports. Sandbox-safe: only @temporalio/workflow.
export {
  DEFAULT_MAX_HISTORY_BYTES,
  DEFAULT_MAX_HISTORY_EVENTS,
  DEFAULT_STUCK_AFTER_ATTEMPTS,
  DEFAULT_STUCK_RETRY_INTERVAL_MS,
  DEFAULT_STUCK_RETRY_MAX_INTERVAL_MS,
  HISTORY_EVENTS_PER_ROUND,
  SAGA_LIFETIME_PATCH,
  Saga,
  SagaErrorType,
  describeFailure,
  lifetimeSagaOptions,
  type Compensation,
  type CompensationFailure,
  type OperatorDecision,
  type SagaLifetimeOptions,
  type SagaOptions,
  type SagaSnapshot,
  type SagaState,
  type SagaStatus,
  type StepOptions,
  type StepState,
  type StepStatus,
} from './saga';
export { resolveCompensationUpdate, sagaStateQuery } from './messages';
export { STEP_ID_PATTERN, compensationKey, forwardKey, keyBelongsTo, stepKeys, type StepKeys } from '../keys';
export { StepSummaryInterceptor, stepSummaryInterceptors } from './summaries';
export { stepSummary } from '../keys';
export { handleOperatorDecisions } from './handlers';
