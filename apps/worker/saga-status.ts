// The apps publish each saga's status as the SagaStatus search attribute (sagas list --status, the UI).
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { SagaStatus } from 'idempotent-sagas/workflow';
import { SAGA_STATUS } from './search-attributes';

/** The saga's onStatus: one upsert per status change (the saga calls it only when the status changes). */
export function publishSagaStatus(status: SagaStatus): void {
  upsertSearchAttributes([{ key: SAGA_STATUS, value: status }]);
}
