// Typed client of the payment gateway, used by the payment activities.
// Any answer that leaves "was it applied?" open is a retryable GatewayAmbiguousError; retry with the same key.
import { type GatewayAmbiguityReason, GatewayAmbiguousError, GatewayKeyAbortedError, GatewayRejectedError } from '../../src/errors';
import {
  type ChargeRequest,
  type GatewayCharge,
  type GatewayChargeView,
  type RefundResult,
  chargeSchema,
  chargeViewSchema,
  errorBodySchema,
  refundResultSchema,
} from './schemas';

import { SpanKind, inSpan, traceHeaders } from '../../src/observability/tracing';
export type { ChargeRequest, GatewayCharge, GatewayChargeView, RefundResult } from './schemas';

export type GatewayClientOptions = {
  baseUrl: string;
  /** Per request; a timeout is ambiguous (the charge may have applied). */
  timeoutMs: number;
};

/** `replayed`: the gateway answered from its stored record (header `Idempotent-Replayed: true`). */
export type ChargeAnswer = (
  { kind: 'succeeded'; charge: GatewayCharge } | { kind: 'declined'; declineCode: string; charge: GatewayCharge } | { kind: 'pending'; charge: GatewayCharge }
) & { replayed?: boolean };

export type RefundTarget = { chargeId: string } | { idempotencyKey: string };

export type KeyLookup = { charge: GatewayChargeView; tombstoned: false } | { charge: undefined; tombstoned: boolean };

export type GatewayClient = {
  /** Charges once per key. Throws GatewayAmbiguousError (retry), GatewayKeyAbortedError, GatewayRejectedError. */
  charge(idempotencyKey: string, body: ChargeRequest): Promise<ChargeAnswer>;
  /** Refunds a charge in full, at most once; by key, a missing charge leaves a tombstone (`no_charge`). */
  refund(target: RefundTarget): Promise<RefundResult>;
  /** The charge for `key` in its current state, or undefined when the gateway has none. */
  getChargeByKey(key: string): Promise<GatewayChargeView | undefined>;
  /** Like getChargeByKey, and tells whether a tombstone holds a key that has no charge. */
  lookupKey(key: string): Promise<KeyLookup>;
};

type RawAnswer = { status: number; replayed: boolean; json: unknown };

export function createGatewayClient(opts: GatewayClientOptions): GatewayClient {
  const base = opts.baseUrl.replace(/\/+$/, '');

  /** One gateway call in a client span of its own, the trace context in its headers. */
  function call(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawAnswer> {
    // Named by the path's first segment (keys stay out of span names); the whole path is an attribute.
    return inSpan(`gateway ${method} /${path.split('/')[1] ?? ''}`, SpanKind.CLIENT, (span) => {
      span.setAttribute('url.path', path);
      return send(method, path, body, { ...headers, ...traceHeaders() });
    });
  }

  async function send(method: 'GET' | 'POST', path: string, body: unknown, headers: Record<string, string>): Promise<RawAnswer> {
    const what = `${method} ${path}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // By name, not instanceof: the DOMException may come from another realm (jest, vm).
      const name = (err as { name?: unknown } | null)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      const reason: GatewayAmbiguityReason = timedOut ? 'timeout' : 'connection';
      const detail = describe(err);
      throw new GatewayAmbiguousError(reason, `${what}: ${timedOut ? `no answer within ${opts.timeoutMs} ms` : detail}`);
    }
    if (res.status >= 500) throw new GatewayAmbiguousError('server_error', `${what}: gateway answered ${res.status}`, res.status);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new GatewayAmbiguousError('malformed_response', `${what}: ${res.status} with a body that is not JSON`, res.status);
    }
    return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', json };
  }

  /** A 4xx the caller cannot retry its way out of; 409 in_progress is the one ambiguous 4xx. */
  function refusal(what: string, answer: RawAnswer, key?: string): Error {
    const parsed = errorBodySchema.safeParse(answer.json);
    const error = parsed.success ? parsed.data.error : 'unknown';
    if (answer.status === 409 && error === 'key_aborted' && key !== undefined) return new GatewayKeyAbortedError(key);
    if (answer.status === 409 && error === 'in_progress') {
      return new GatewayAmbiguousError('in_progress', `${what}: another request with this key is in flight`, 409);
    }
    const message = parsed.success && parsed.data.message ? `: ${parsed.data.message}` : '';
    return new GatewayRejectedError(answer.status, error, `${what}: ${answer.status} ${error}${message}`);
  }

  function parsed<T>(what: string, answer: RawAnswer, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T {
    const result = schema.safeParse(answer.json);
    if (!result.success) throw new GatewayAmbiguousError('malformed_response', `${what}: unexpected ${answer.status} body`, answer.status);
    return result.data;
  }

  async function lookupKey(key: string): Promise<KeyLookup> {
    const what = 'GET /charges/by-key';
    const answer = await call('GET', `/charges/by-key/${encodeURIComponent(key)}`);
    if (answer.status === 200) return { charge: parsed(what, answer, chargeViewSchema), tombstoned: false };
    const error = errorBodySchema.safeParse(answer.json);
    if (answer.status === 404 && error.success && error.data.error === 'not_found') {
      return { charge: undefined, tombstoned: error.data.tombstoned === true };
    }
    throw refusal(what, answer);
  }

  return {
    async charge(idempotencyKey, body) {
      const what = 'POST /charges';
      const answer = await call('POST', '/charges', body, { 'idempotency-key': idempotencyKey });
      const expected = { 201: 'succeeded', 402: 'declined', 202: 'pending' }[answer.status];
      if (expected === undefined) throw refusal(what, answer, idempotencyKey);
      const charge = parsed(what, answer, chargeSchema);
      if (charge.status !== expected) throw new GatewayAmbiguousError('malformed_response', `${what}: ${answer.status} with status ${charge.status}`);
      const replayed = answer.replayed;
      if (charge.status === 'declined') return { kind: 'declined', declineCode: charge.declineCode ?? 'card_declined', charge, replayed };
      return { kind: charge.status, charge, replayed };
    },

    async refund(target) {
      const what = 'POST /refunds';
      const answer = await call('POST', '/refunds', target);
      if (answer.status !== 200 && answer.status !== 201) throw refusal(what, answer);
      return parsed(what, answer, refundResultSchema);
    },

    async getChargeByKey(key) {
      return (await lookupKey(key)).charge;
    },

    lookupKey,
  };
}

/** fetch hides the socket error in `cause` ("fetch failed" → "other side closed"). */
function describe(err: unknown): string {
  const { message, cause } = (err ?? {}) as { message?: unknown; cause?: { message?: unknown } };
  const causeText = typeof cause?.message === 'string' ? `: ${cause.message}` : '';
  return `${typeof message === 'string' ? message : String(err)}${causeText}`;
}
