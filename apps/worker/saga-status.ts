// The apps publish each saga's status as the SagaStatus search attribute (sagas list --status, the UI).
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SagaStatus } from 'idempotent-sagas/workflow';
import { SAGA_STATUS } from './search-attributes';

/**
 * The saga's onStatus: one upsert per status change (the saga calls it only when the status changes), but
 * none for a first run's RUNNING when its start gave it (STARTS_RUNNING). Deterministic: the attributes
 * come from the start event.
 */
export function publishSagaStatus(status: SagaStatus): void {
  const info = workflowInfo();
  // Only a first run's RUNNING: a run continued as new inherits its attributes, and its histories re-publish.
  if (status === 'RUNNING' && info.continuedFromExecutionRunId === undefined && info.typedSearchAttributes.get(SAGA_STATUS) === 'RUNNING') return;
  upsertSearchAttributes([{ key: SAGA_STATUS, value: status }]);
}
