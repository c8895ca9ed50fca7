// The step an activity works for, on every log line it writes (the key in its input names it).
import { stepSummary } from '../keys';

/** The parts of Temporal's activity interceptor interfaces used here (structurally the worker's own). */
export type StepLogInterceptors = {
  inbound: { execute<I extends { args: unknown[] }>(input: I, next: (input: I) => Promise<unknown>): Promise<unknown> };
  outbound: { getLogAttributes<A extends Record<string, unknown>>(input: A, next: (input: A) => Record<string, unknown>): Record<string, unknown> };
};

/**
 * An activity interceptor factory for the worker (`interceptors: { activity: [stepLogInterceptors] }`):
 * each log line of an activity carries `step` — `reserve:SKU-1`, `compensate charge` — read from its input's keys.
 */
export function stepLogInterceptors(ctx: { info: { workflowExecution?: { workflowId: string } | undefined } }): StepLogInterceptors {
  let step: string | undefined;
  return {
    inbound: {
      execute: (input, next) => {
        const workflowId = ctx.info.workflowExecution?.workflowId;
        step = workflowId === undefined ? undefined : stepSummary(workflowId, input.args[0]);
        return next(input);
      },
    },
    outbound: { getLogAttributes: (input, next) => next(step === undefined ? input : { step, ...input }) },
  };
}
