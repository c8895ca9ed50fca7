// idempotent-sagas/fastify: HTTP Idempotency-Key handling for Fastify routes that opt in (fingerprint,
// 409 + Retry-After, 422, byte-identical replay with Idempotent-Replayed, per-tenant keys).
export {
  DEFAULT_HTTP_LEASE_MS,
  DEFAULT_HTTP_SCOPE,
  idempotentRoute,
  sendRefusal,
  sendStored,
  type IdempotencyOptions,
  type IdempotencyOutcome,
  type IdempotencyRefusal,
  type IdempotentRequest,
  type IdempotentRoute,
  type StoredResponse,
} from './idempotent-route';
export { IDEMPOTENCY_KEY_HEADER, checkIdempotencyKey, headerOccurrences, httpStoreKey, sha256Hex, type KeyCheck } from './keys';
