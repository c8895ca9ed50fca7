// The operator's way out of COMPENSATION_STUCK, wired once for every saga.
import { condition, setHandler } from '@temporalio/workflow';
import { resolveCompensationUpdate } from './messages';
import type { OperatorDecision, Saga } from './saga';

/**
 * Takes an operator's decisions for `saga` through resolveCompensationUpdate: a decision the saga cannot
 * act on is refused by the validator (nothing is written to history); an accepted one is answered with
 * the state it led to. Call it once, right after creating (or resuming) the saga.
 */
export function handleOperatorDecisions(saga: Saga): void {
  setHandler(
    resolveCompensationUpdate,
    async (decision) => {
      saga.decide(decision);
      await condition(() => saga.state().status !== 'COMPENSATION_STUCK'); // answer with the state the decision led to
      return saga.state();
    },
    { validator: (decision: OperatorDecision) => saga.validateDecision(decision) },
  );
}
