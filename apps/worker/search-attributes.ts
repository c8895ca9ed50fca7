// Search attributes the sagas publish; registered on the dev server at start and on a given server by the worker.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

/** The saga's status: RUNNING, COMPENSATING, COMPENSATION_STUCK, COMPLETED, COMPENSATED. */
export const SAGA_STATUS = defineSearchAttributeKey('SagaStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [SAGA_STATUS];

/**
 * Start options that give a saga its first status with its start: the saga's first publication (RUNNING)
 * then finds it there and upserts nothing, one history event and one visibility write fewer per saga.
 */
export const STARTS_RUNNING = { typedSearchAttributes: [{ key: SAGA_STATUS, value: 'RUNNING' }] };
