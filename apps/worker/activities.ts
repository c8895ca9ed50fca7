// createActivities(deps) -> every activity. Workflows import this module by type only.
import { defineSteps } from 'idempotent-sagas/activity';
import { STEP_SCOPE, type ActivityDeps } from '../orders/activities/deps';
import { createInventoryActivities } from '../orders/activities/inventory';
import { createOrderActivities } from '../orders/activities/orders';
import { createPaymentActivities } from '../orders/activities/payments';
import { createSagaLifecycleActivities } from './saga-lifecycle';
import { createWalletActivities } from '../wallet/activities';

export function createActivities(deps: ActivityDeps) {
  const steps = defineSteps({ store: deps.store, scope: STEP_SCOPE, leaseMs: deps.leaseMs });
  return {
    ...createOrderActivities(steps),
    ...createInventoryActivities(steps),
    ...createPaymentActivities(deps, steps),
    ...createWalletActivities(steps),
    ...createSagaLifecycleActivities(steps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
export type { ChargeOutcome } from '../orders/activities/payments';
export type { WalletMove } from '../wallet/activities';
