// What every route module is given by buildGatewayApp.
import type { Pool } from 'pg';
import type { FaultInjector } from '../faults';
import type { WebhookDispatcher } from '../webhooks';

export type GatewayDeps = {
  pool: Pool;
  faults: FaultInjector;
  /** Present when a webhook target is configured: pending charges get confirmed through it. */
  webhooks: WebhookDispatcher | undefined;
  /** Aborted when the gateway starts closing: held answers are abandoned at once. */
  shutdown: AbortSignal;
};
