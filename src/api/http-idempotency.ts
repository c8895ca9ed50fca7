// HTTP-level idempotency (DESIGN §2, §8): how a request's Idempotency-Key becomes a store key,
// an order ID and a workflow ID. All three are pure functions of (tenant, key), so a retry after
// a crash lands on the same record, the same order and the same saga.
import { createHash } from 'node:crypto';
import { KEY_PATTERN } from 'idempotent-sagas/store';

/** Store scope of HTTP records (its retention comes from IDEMPOTENCY_SCOPE_TTLS `http=` or the default). */
export const HTTP_SCOPE = 'http';

/**
 * How long one request holds the key while it starts the saga. Starting a workflow takes
 * milliseconds; a holder that died is taken over once this runs out.
 */
export const HTTP_LEASE_MS = 5000;

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export type KeyCheck = { ok: true; key: string } | { ok: false; reason: 'missing' | 'invalid'; detail: string };

/** The Idempotency-Key header: 1–255 printable ASCII characters (0x20–0x7E), given once. */
export function checkIdempotencyKey(header: string | string[] | undefined): KeyCheck {
  if (header === undefined) return { ok: false, reason: 'missing', detail: 'send an Idempotency-Key header (1–255 printable ASCII characters)' };
  if (Array.isArray(header)) return { ok: false, reason: 'invalid', detail: 'send exactly one Idempotency-Key header' };
  if (header.length === 0) return { ok: false, reason: 'invalid', detail: 'the Idempotency-Key must not be empty' };
  if (header.length > 255) return { ok: false, reason: 'invalid', detail: `the Idempotency-Key must be at most 255 characters (got ${header.length})` };
  if (!KEY_PATTERN.test(header)) return { ok: false, reason: 'invalid', detail: 'the Idempotency-Key must contain only printable ASCII characters' };
  return { ok: true, key: header };
}

/** How many times a header was sent: Node joins repeated unknown headers with ", " and keeps the first of some others. */
export function headerOccurrences(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === name) n += 1;
  return n;
}

/**
 * Store key of one HTTP request: `${tenantId}:${METHOD}:${route}:${sha256hex(Idempotency-Key)}`.
 * Hashing the client's key keeps the store key within 255 printable characters whatever the
 * client sent, and the prefix scopes it per (tenant, method, route) so tenants never collide.
 */
export function httpStoreKey(tenantId: string, method: string, route: string, idempotencyKey: string): string {
  return `${tenantId}:${method.toUpperCase()}:${route}:${sha256Hex(idempotencyKey)}`;
}

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

/** What is stored for a completed POST and replayed byte for byte. */
export type StoredResponse = { statusCode: number; location: string; body: string };
