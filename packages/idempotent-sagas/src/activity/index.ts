// idempotent-sagas/activity: what activity code imports: the step kinds (local, external, at-most-once
// and their compensations), input validation, the own-key check, the lease owner of an attempt, and the
// translation of typed errors into Temporal failures.
export { ActivityErrorType, assertOwnKey, attemptOwner, ownSagaId, parseInput } from './context';
export { toActivityFailure, translated } from './failures';
export { stepLogInterceptors } from './logging';
export {
  CloseSagaInput,
  DEFAULT_LEASE_MS,
  DEFAULT_STEP_SCOPE,
  defineSteps,
  type ExternalCompensation,
  type ExternalCompensationDefinition,
  type ExternalStep,
  type ExternalStepDefinition,
  type KeyOf,
  type LocalCompensationDefinition,
  type LocalStepDefinition,
  type ProviderAnswer,
  type StepActivity,
  type StepHooks,
  type StepPoint,
  type StepKindOptions,
  type StepKinds,
} from './steps';
export type { LocalCompensation } from '../store/store';
export { BusinessFailure, InProgressError, TypedError } from '../errors';
