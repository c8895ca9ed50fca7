// What the Temporal UI shows for each activity of a saga: the step it works for, read from the keys
// in its input (`reserve:SKU-1`, `compensate charge`). Summaries are metadata: replay ignores them.
import { stepSummary } from '../keys';
import {
  workflowInfo,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowInterceptors,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** Gives every activity call (regular or local) without a summary of its own its step's summary. */
export class StepSummaryInterceptor implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return next(withStepSummary(input));
  }

  async scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return next(withStepSummary(input));
  }
}

function withStepSummary<I extends ActivityInput | LocalActivityInput>(input: I): I {
  const summary = input.options.summary ?? stepSummary(workflowInfo().workflowId, input.args[0]);
  return summary === undefined ? input : { ...input, options: { ...input.options, summary } };
}

/** For a workflow interceptor module: `export const interceptors = stepSummaryInterceptors;`. */
export const stepSummaryInterceptors = (): WorkflowInterceptors => ({ outbound: [new StepSummaryInterceptor()] });
