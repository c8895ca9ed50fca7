// The end of a saga's life: its idempotency records' retention clock starts when it closes (DESIGN §10).
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { ActivityErrorType, ownSagaId, parseInput, translated } from 'idempotent-sagas/activity';
import { STEP_SCOPE, type ActivityDeps } from './deps';

const CloseSagaInput = z.object({ sagaId: z.string().min(1).max(255), outcome: z.enum(['COMPLETED', 'COMPENSATED']) });
export type CloseSagaInput = z.infer<typeof CloseSagaInput>;

export function createSagaLifecycleActivities({ store }: ActivityDeps) {
  return {
    /**
     * Called by a saga at its terminal state, last: from now its step records expire after the step
     * scope's TTL, and no late attempt may create a new one. Idempotent (the first close stands).
     */
    async closeSaga(raw: CloseSagaInput): Promise<{ closed: boolean }> {
      const input = parseInput(CloseSagaInput, raw);
      if (input.sagaId !== ownSagaId()) {
        throw ApplicationFailure.nonRetryable(`saga ${JSON.stringify(input.sagaId)} is not this activity's workflow`, ActivityErrorType.ForeignKey);
      }
      return translated(() => store.closeSaga({ sagaId: input.sagaId, outcome: input.outcome, scope: STEP_SCOPE }));
    },
  };
}
