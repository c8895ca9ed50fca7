// What the apps' sagas share around the library's Saga: activity options, the saga options under the
// saga-lifetime-v1 patch (status published, continue-as-new), and the close that ends a saga's life.
import { CancellationScope, proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import { DEFAULT_STUCK_AFTER_ATTEMPTS, lifetimeSagaOptions, type SagaLifetimeOptions, type SagaOptions, type SagaSnapshot } from 'idempotent-sagas/workflow';
import type { Activities } from './activities';
import { publishSagaStatus } from './saga-status';

const RETRY = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds' } as const;

/** Forward activities: retried (backing off to 5 s) until they succeed or fail for good. */
export const forward = proxyActivities<Activities>({ startToCloseTimeout: '20 seconds', retry: RETRY });

/**
 * Forward steps whose effect is local (one Postgres transaction, keyed like any step): local activities, run
 * by the worker inside the workflow task, with no task of their own to dispatch. Same retries, same keys.
 */
export const localForward = proxyLocalActivities<Activities>({ startToCloseTimeout: '20 seconds', retry: RETRY });

/** The patch under which the order saga runs its local steps as local activities (histories without it replay as regular ones). */
export const LOCAL_STEPS_PATCH = 'local-steps-v1';

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
export function sagaCloser(
  lifetime: boolean,
  workflowId: string,
  steps: Pick<Activities, 'closeSaga'> = forward,
): (outcome: 'COMPLETED' | 'COMPENSATED') => Promise<void> {
  return async (outcome) => {
    if (lifetime) await CancellationScope.nonCancellable(() => steps.closeSaga({ sagaId: workflowId, outcome }));
  };
}
