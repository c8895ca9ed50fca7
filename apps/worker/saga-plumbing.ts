// What the apps' sagas share around the library's Saga: activity options, the saga options under the
// saga-lifetime-v1 patch (status published, continue-as-new), and the close that ends a saga's life.
import { CancellationScope, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { DEFAULT_STUCK_AFTER_ATTEMPTS, lifetimeSagaOptions, type SagaLifetimeOptions, type SagaOptions, type SagaSnapshot } from 'idempotent-sagas/workflow';
import type { Activities } from './activities';
import { publishSagaStatus } from './saga-status';

const RETRY = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds' } as const;

/** Forward activities: retried (backing off to 5 s) until they succeed or fail for good. */
export const forward = proxyActivities<Activities>({ startToCloseTimeout: '20 seconds', retry: RETRY });

/** Compensation activities: one round is `stuckAfterAttempts` attempts (default 10), then the saga is stuck. */
export function compensationActivities(stuckAfterAttempts: number | undefined, options: Partial<ActivityOptions> = {}) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '20 seconds',
    ...options,
    retry: { ...RETRY, maximumAttempts: stuckAfterAttempts ?? DEFAULT_STUCK_AFTER_ATTEMPTS },
  });
}

/**
 * The apps' SagaOptions: the status published as the SagaStatus search attribute; with the lifetime
 * patch, continue-as-new through `continueAsNew` (which puts the snapshot into the next run's input).
 */
export function appSagaOptions(o: {
  workflowId: string;
  lifetime: boolean;
  options: SagaLifetimeOptions;
  continueAsNew: (snapshot: SagaSnapshot) => Promise<never>;
  onStuck?: SagaOptions['onStuck'];
}): SagaOptions {
  return {
    workflowId: o.workflowId,
    onStatus: publishSagaStatus,
    legacyHistory: !o.lifetime,
    ...lifetimeSagaOptions(o.options),
    ...(o.onStuck && { onStuck: o.onStuck }),
    ...(o.lifetime && { continueAsNew: o.continueAsNew }),
  };
}

/** The saga's terminal state, recorded last (its records' retention clock starts), whatever was cancelled. */
export function sagaCloser(lifetime: boolean, workflowId: string): (outcome: 'COMPLETED' | 'COMPENSATED') => Promise<void> {
  return async (outcome) => {
    if (lifetime) await CancellationScope.nonCancellable(() => forward.closeSaga({ sagaId: workflowId, outcome }));
  };
}
