// createActivities(deps) -> every activity. Workflows import this module by type only.
import type { ActivityDeps } from './deps';
import { createInventoryActivities } from './inventory';
import { createOrderActivities } from './orders';
import { createPaymentActivities } from './payments';
import { createSagaLifecycleActivities } from './saga-lifecycle';
import { createWalletActivities } from './wallet';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createOrderActivities(deps),
    ...createInventoryActivities(deps),
    ...createPaymentActivities(deps),
    ...createWalletActivities(deps),
    ...createSagaLifecycleActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
export type { ChargeOutcome } from './payments';
export type { WalletMove } from './wallet';
