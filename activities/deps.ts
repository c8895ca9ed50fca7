// What the activities need, injected by the worker (and by tests).
import type { Pool } from 'pg';
import type { IdempotencyStore } from '../src/idempotency/store';
import type { GatewayClient } from '../src/gateway/client';

export type ActivityDeps = {
  pool: Pool;
  store: IdempotencyStore;
  gateway: GatewayClient;
  /** How long a claim on an external effect lasts without a heartbeat. */
  leaseMs: number;
};

/** Scope of saga step keys in the idempotency table. */
export const STEP_SCOPE = 'step';
