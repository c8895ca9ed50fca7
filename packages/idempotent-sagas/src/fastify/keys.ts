// The Idempotency-Key header and the store key of one HTTP request (DESIGN §2, §8).
import { createHash } from 'node:crypto';
import { KEY_PATTERN } from '../keys';

/** The header, as Node lower-cases it. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** SHA-256 of a UTF-8 string, in lower-case hex. */
export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** The header's check: the key, or why it is refused (missing → 400 missing, anything else → 400 invalid). */
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
