// What the Temporal UI shows for each activity of a saga: the step it works for, read from the keys
// in its input (`reserve:SKU-1`, `compensate charge`). Summaries are metadata: replay ignores them.
import { workflowInfo, type ActivityInput, type Next, type WorkflowInterceptors, type WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';

/** The step of `workflowId` a key names, without a trailing `/compensate`; undefined for another workflow's key. */
function stepOf(workflowId: string, key: unknown): { stepId: string; compensation: boolean } | undefined {
  if (typeof key !== 'string' || !key.startsWith(`${workflowId}/`)) return undefined;
  const rest = key.slice(workflowId.length + 1);
  return rest.endsWith('/compensate') ? { stepId: rest.slice(0, -'/compensate'.length), compensation: true } : { stepId: rest, compensation: false };
}

/**
 * The summary of an activity call whose first argument carries step keys: a forward call's `key`
 * names its step; a compensation carries `compensationKey` (or a `key` ending in /compensate) or only
 * the `forwardKey` of the step it undoes. Undefined when the input names no key of this workflow.
 */
export function stepSummary(workflowId: string, input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { key, forwardKey, compensationKey } = input as Record<string, unknown>;
  const undo = stepOf(workflowId, compensationKey) ?? (stepOf(workflowId, key)?.compensation ? stepOf(workflowId, key) : undefined);
  if (undo) return `compensate ${undo.stepId}`;
  const forward = stepOf(workflowId, key);
  if (forward) return forward.stepId;
  const undone = stepOf(workflowId, forwardKey);
  return undone ? `compensate ${undone.stepId}` : undefined;
}

/** Gives every activity call without a summary of its own its step's summary. */
export class StepSummaryInterceptor implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    const summary = input.options.summary ?? stepSummary(workflowInfo().workflowId, input.args[0]);
    return next(summary === undefined ? input : { ...input, options: { ...input.options, summary } });
  }
}

/** For a workflow interceptor module: `export const interceptors = stepSummaryInterceptors;`. */
export const stepSummaryInterceptors = (): WorkflowInterceptors => ({ outbound: [new StepSummaryInterceptor()] });
