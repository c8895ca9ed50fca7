// What every activity does first: validate its input and check that its key belongs to its own workflow.
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { keyBelongsTo } from '../keys';

/** The failure types the activity helpers raise (non-retryable): a bad input, a key of another workflow. */
export const ActivityErrorType = {
  InvalidInput: 'INVALID_ACTIVITY_INPUT',
  ForeignKey: 'IDEMPOTENCY_KEY_OF_ANOTHER_WORKFLOW',
} as const;

/** Parses activity input; a bad input is a non-retryable failure that names the fields. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`invalid activity input: ${fields}`, ActivityErrorType.InvalidInput);
  }
  return parsed.data;
}

/** Keys are `${workflowId}/${stepId}`: an activity refuses a key minted for another workflow. */
export function assertOwnKey(...keys: string[]): void {
  const workflowId = activityInfo().workflowExecution?.workflowId;
  for (const key of keys) {
    if (!workflowId || !keyBelongsTo(key, workflowId)) {
      throw ApplicationFailure.nonRetryable(
        `idempotency key ${JSON.stringify(key)} does not belong to workflow ${JSON.stringify(workflowId)}`,
        ActivityErrorType.ForeignKey,
      );
    }
  }
}

/**
 * The saga this activity works for: its workflow ID, which its keys were checked to belong to. The
 * store keeps the saga's records while it is open.
 */
export function ownSagaId(): string {
  const workflowId = activityInfo().workflowExecution?.workflowId;
  if (!workflowId) throw ApplicationFailure.nonRetryable('the activity runs outside a workflow: no saga to record for', ActivityErrorType.ForeignKey);
  return workflowId;
}

/**
 * A name for this attempt, unique across retries, runs and workers: the lease owner. The run ID
 * tells attempts of a continued-as-new or reset run apart (activity IDs restart in each run).
 */
export function attemptOwner(): string {
  const info = activityInfo();
  return `${info.workflowExecution?.workflowId ?? '?'}:${info.workflowExecution?.runId ?? '?'}:${info.activityId}:${info.attempt}`;
}
