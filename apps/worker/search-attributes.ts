// Search attributes the sagas publish; registered on the dev server at start and on a given server by the worker.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

/** The saga's status: RUNNING, COMPENSATING, COMPENSATION_STUCK, COMPLETED, COMPENSATED. */
export const SAGA_STATUS = defineSearchAttributeKey('SagaStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [SAGA_STATUS];
