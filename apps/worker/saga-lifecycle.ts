// The end of a saga's life: its idempotency records' retention clock starts when it closes (DESIGN §10).
import type { StepKinds } from 'idempotent-sagas/activity';

/** The terminal states a saga of this project closes with. */
export type CloseSagaInput = { sagaId: string; outcome: 'COMPLETED' | 'COMPENSATED' };

export function createSagaLifecycleActivities(steps: StepKinds) {
  const close = steps.closeSaga();
  return {
    /**
     * Called by a saga at its terminal state, last: from now its step records expire after the step
     * scope's TTL, and no late attempt may create a new one. Idempotent (the first close stands).
     */
    closeSaga: (input: CloseSagaInput): Promise<{ closed: boolean }> => close(input),
  };
}
