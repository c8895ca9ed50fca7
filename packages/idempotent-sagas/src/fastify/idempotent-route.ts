// Idempotency-Key handling for any Fastify route that opts in: the header checked before the body is
// parsed, the request claimed under a short lease in the store, a repeat answered byte for byte from
// the stored response. Invariant: a key's first complete response is the only one it ever gets.
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, RouteGenericInterface } from 'fastify';
import { FingerprintMismatchError, InProgressError, StaleEpochError } from '../errors';
import type { IdempotencyStore } from '../store/store';
import { IDEMPOTENCY_KEY_HEADER, checkIdempotencyKey, headerOccurrences, httpStoreKey } from './keys';

/** The store scope of HTTP records, unless another is given. */
export const DEFAULT_HTTP_SCOPE = 'http';
/** How long one request holds its key while it works, unless another is given (ms). */
export const DEFAULT_HTTP_LEASE_MS = 5000;

/** Why a request is refused before (or instead of) its handler. */
export type IdempotencyRefusal =
  /** 400: no Idempotency-Key header. */
  | 'key-missing'
  /** 400: empty, too long, not printable ASCII, or sent twice. */
  | 'key-invalid'
  /** 409 with Retry-After: the first request with this key is still in progress. */
  | 'key-in-use'
  /** 422: the key was first used with another body. */
  | 'key-reused';

/** What each request came to, for metrics. */
export type IdempotencyOutcome = 'executed' | 'replayed' | 'conflict' | 'mismatch' | 'takeover';

/** A response as stored and replayed: status, headers and the body's exact bytes. */
export type StoredResponse = {
  statusCode: number;
  body: string;
  /** Replayed as they are (e.g. Location). The content type is `contentType`. */
  headers?: Record<string, string>;
  /** Default application/json; charset=utf-8. */
  contentType?: string;
  /** Records written before `headers` existed carried Location here; replayed as the Location header. */
  location?: string;
};

/** The claimed request, as the handler sees it. */
export type IdempotentRequest = {
  tenantId: string;
  /** The client's Idempotency-Key. */
  idempotencyKey: string;
  /** The store key (tenant, method, route, SHA-256 of the client's key). */
  storeKey: string;
  /** The record's generation: the same across retries and takeovers, new once the key expired and was used again. */
  generation: string;
  /** True when this attempt took the key over from one whose lease ran out. */
  takeover: boolean;
};

/** How a route's requests are deduplicated. */
export type IdempotencyOptions = {
  store: IdempotencyStore;
  /** The tenant a request acts for: the same key from two tenants is two requests. */
  tenantOf: (request: FastifyRequest) => string;
  scope?: string;
  leaseMs?: number;
  /** The record's lease owner; default `http:<request id>`. */
  ownerOf?: (request: FastifyRequest) => string;
  /** Sends a refusal; default an RFC 9457 problem (application/problem+json). */
  refuse?: (reply: FastifyReply, refusal: IdempotencyRefusal, detail: string) => FastifyReply;
  /** Told what each request came to. */
  onOutcome?: (outcome: IdempotencyOutcome) => void;
  /**
   * What to send for a stored response, first time or replayed (default: the stored response itself). Not
   * stored: a view of it for this request, such as the outcome it led to by now (e.g. `Prefer: wait`).
   */
  present?: (request: FastifyRequest, stored: StoredResponse, replayed: boolean) => Promise<StoredResponse>;
};

/** The two pieces a route uses: its onRequest hook and its handler. */
export type IdempotentRoute = {
  /** Checks the Idempotency-Key header before the body is parsed (400 on a missing, invalid or repeated one). */
  onRequest: onRequestAsyncHookHandler;
  /**
   * The route's handler around `execute`, which runs once per key and returns the response to store.
   * A repeat is answered from the store; `execute` throwing releases the key for the next attempt.
   */
  handler<R extends RouteGenericInterface = RouteGenericInterface>(
    execute: (request: FastifyRequest<R>, claim: IdempotentRequest) => Promise<StoredResponse>,
  ): (request: FastifyRequest<R>, reply: FastifyReply) => Promise<void>;
};

const TITLES: Record<IdempotencyRefusal, [number, string]> = {
  'key-missing': [400, 'The Idempotency-Key header is required'],
  'key-invalid': [400, 'The Idempotency-Key header is invalid'],
  'key-in-use': [409, 'A request with this Idempotency-Key is in progress'],
  'key-reused': [422, 'The Idempotency-Key was used with a different request'],
};

/** The default refusal: an RFC 9457 problem. */
export function sendRefusal(reply: FastifyReply, refusal: IdempotencyRefusal, detail: string): FastifyReply {
  const [status, title] = TITLES[refusal];
  return reply
    .code(status)
    .type('application/problem+json; charset=utf-8')
    .send(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

/** Sends a stored response exactly as stored; a repeat says so with Idempotent-Replayed: true. */
export function sendStored(reply: FastifyReply, stored: StoredResponse, replayed: boolean): FastifyReply {
  reply.code(stored.statusCode).type(stored.contentType ?? 'application/json; charset=utf-8');
  const headers = stored.headers ?? (stored.location === undefined ? {} : { location: stored.location });
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  if (replayed) reply.header('idempotent-replayed', 'true');
  return reply.send(stored.body);
}

const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/** Idempotency-Key handling for routes that opt in; see IdempotentRoute. */
export function idempotentRoute(opts: IdempotencyOptions): IdempotentRoute {
  const { store } = opts;
  const scope = opts.scope ?? DEFAULT_HTTP_SCOPE;
  const leaseMs = opts.leaseMs ?? DEFAULT_HTTP_LEASE_MS;
  const refuse = opts.refuse ?? sendRefusal;
  const outcome = (o: IdempotencyOutcome): void => opts.onOutcome?.(o);
  const keys = new WeakMap<FastifyRequest, string>();

  return {
    onRequest: async (request, reply) => {
      // A repeated header is refused, not merged: Node would join two keys into one valid-looking key.
      const header = request.headers[IDEMPOTENCY_KEY_HEADER];
      const check = checkIdempotencyKey(headerOccurrences(request.raw.rawHeaders, IDEMPOTENCY_KEY_HEADER) > 1 ? [String(header)] : header);
      if (!check.ok) return refuse(reply, check.reason === 'missing' ? 'key-missing' : 'key-invalid', check.detail);
      keys.set(request, check.key);
    },

    handler:
      <R extends RouteGenericInterface>(execute: (request: FastifyRequest<R>, claim: IdempotentRequest) => Promise<StoredResponse>) =>
      async (request: FastifyRequest<R>, reply: FastifyReply): Promise<void> => {
        await answer(request, reply, execute);
      },
  };

  /** Claims, executes or replays; every path has sent its reply when it returns. */
  async function answer<R extends RouteGenericInterface>(
    request: FastifyRequest<R>,
    reply: FastifyReply,
    execute: (request: FastifyRequest<R>, claim: IdempotentRequest) => Promise<StoredResponse>,
  ): Promise<FastifyReply> {
    const idempotencyKey = keys.get(request);
    if (idempotencyKey === undefined) throw new Error('the route has no idempotentRoute onRequest hook: the Idempotency-Key was never checked');
    const tenantId = opts.tenantOf(request);
    const ref = { scope, key: httpStoreKey(tenantId, request.method, request.routeOptions.url ?? request.url, idempotencyKey) };
    let claim;
    try {
      const owner = opts.ownerOf?.(request) ?? `http:${request.id}`;
      claim = await store.claimLease<StoredResponse>({ ...ref, request: request.body, owner, leaseMs });
    } catch (err) {
      if (err instanceof InProgressError) {
        outcome('conflict');
        reply.header('retry-after', retryAfterSeconds(err.retryAfterMs));
        return refuse(reply, 'key-in-use', 'the first request with this Idempotency-Key is still being processed');
      }
      if (err instanceof FingerprintMismatchError) {
        outcome('mismatch');
        return refuse(reply, 'key-reused', 'this Idempotency-Key was first used with a different body');
      }
      throw err;
    }
    if (claim.kind === 'replayed') {
      outcome('replayed');
      return present(request, reply, claim.result, true);
    }
    if (claim.takeover) outcome('takeover');

    let stored: StoredResponse;
    try {
      stored = await execute(request, { tenantId, idempotencyKey, storeKey: ref.key, generation: claim.generation, takeover: claim.takeover });
    } catch (err) {
      // Nothing definitive happened that we know of: let the next attempt take the key over at once.
      await store.releaseLease({ ...ref, epoch: claim.epoch }).catch(() => undefined);
      throw err;
    }
    try {
      await store.completeLease({ ...ref, epoch: claim.epoch, result: stored });
    } catch (err) {
      if (!(err instanceof StaleEpochError)) throw err;
      // A newer attempt took the key over while we worked: answer what it stored, or tell the client to retry.
      const record = await store.get(ref);
      if (record?.status === 'completed') return present(request, reply, record.result as StoredResponse, true);
      outcome('conflict');
      reply.header('retry-after', retryAfterSeconds(record?.leaseMsLeft ?? 1000));
      return refuse(reply, 'key-in-use', 'another attempt with this Idempotency-Key took over');
    }
    outcome('executed');
    return present(request, reply, stored, false);
  }

  async function present(request: FastifyRequest, reply: FastifyReply, stored: StoredResponse, replayed: boolean): Promise<FastifyReply> {
    return sendStored(reply, opts.present ? await opts.present(request, stored, replayed) : stored, replayed);
  }
}
