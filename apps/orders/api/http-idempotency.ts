// HTTP-level idempotency of the orders API (DESIGN §2, §8): its records' scope and lease, and how a
// request's Idempotency-Key becomes an order ID and a workflow ID (the header and the store key are
// idempotent-sagas/fastify's). Pure functions of (tenant, key, generation): a retry after a crash lands
// on the same record, the same order and the same saga.
import { sha256Hex } from 'idempotent-sagas/fastify';

/** Store scope of HTTP records (its retention comes from IDEMPOTENCY_SCOPE_TTLS `http=` or the default). */
export const HTTP_SCOPE = 'http';

/**
 * How long one request holds the key while it starts the saga. Starting a workflow takes
 * milliseconds; a holder that died is taken over once this runs out.
 */
export const HTTP_LEASE_MS = 5000;

/**
 * `ord_` + the first 24 hex digits of SHA-256 over (tenant, key, the HTTP record's generation): every
 * attempt at one request (a retry, a takeover after a crash) names the same order, while the same key
 * used again after its record's retention ended names a new, independent order (DESIGN §8, last row).
 */
export function orderIdFor(tenantId: string, idempotencyKey: string, generation: string): string {
  return `ord_${sha256Hex(JSON.stringify([tenantId, idempotencyKey, generation])).slice(0, 24)}`;
}

export function workflowIdFor(orderId: string): string {
  return `order-${orderId}`;
}
