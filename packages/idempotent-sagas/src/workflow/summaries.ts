// What the Temporal UI shows for each activity of a saga: the step it works for, read from the keys
// in its input (`reserve:SKU-1`, `compensate charge`). Summaries are metadata: replay ignores them.
import { stepSummary } from '../keys';
import { workflowInfo, type ActivityInput, type Next, type WorkflowInterceptors, type WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';

/** Gives every activity call without a summary of its own its step's summary. */
export class StepSummaryInterceptor implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    const summary = input.options.summary ?? stepSummary(workflowInfo().workflowId, input.args[0]);
    return next(summary === undefined ? input : { ...input, options: { ...input.options, summary } });
  }
}

/** For a workflow interceptor module: `export const interceptors = stepSummaryInterceptors;`. */
export const stepSummaryInterceptors = (): WorkflowInterceptors => ({ outbound: [new StepSummaryInterceptor()] });
