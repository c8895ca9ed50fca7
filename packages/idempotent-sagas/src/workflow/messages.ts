// The messages every saga answers: its state (query) and an operator's decision while it is stuck (update).
// Safe to import outside the sandbox (clients, CLIs, tests).
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OperatorDecision, SagaState } from './saga';

/** The saga's state; a workflow may answer with more fields (its own query type of the same name). */
export const sagaStateQuery = defineQuery<SagaState>('sagaState');
/** An operator's decision for a stuck compensation: retry it now, or skip it with a reason. Answers the new state. */
export const resolveCompensationUpdate = defineUpdate<SagaState, [OperatorDecision]>('resolveCompensation');
