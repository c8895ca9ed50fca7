// What the activities need, injected by the worker (and by tests).
import type { Pool } from 'pg';
import type { IdempotencyStore } from 'idempotent-sagas/store';
import type { GatewayClient } from '../../gateway/client';

export type ActivityDeps = {
  pool: Pool;
  store: IdempotencyStore;
  gateway: GatewayClient;
  /** How long a claim on an external effect lasts without a heartbeat. */
  leaseMs: number;
  /**
   * The charge's step kind. `external` (default): the gateway dedups by our key, so a retry after an
   * ambiguous answer sends again. `at-most-once`, for a provider that honours no key: once an attempt
   * may have sent, no later attempt sends; it looks the charge up by reference instead.
   */
  chargeStepKind?: ChargeStepKind;
};

export type ChargeStepKind = 'external' | 'at-most-once';

/** Scope of saga step keys in the idempotency table. */
export const STEP_SCOPE = 'step';
