// RFC 9457 problem details. Every error the API answers has one of these stable `type` URIs;
// the body never carries a stack trace or an internal message.
import type { FastifyReply } from 'fastify';

export const PROBLEM_BASE = 'https://idempotent-sagas.dev/problems/';

export const Problem = {
  /** The body or a parameter failed its schema; `errors` lists each field. */
  ValidationError: { slug: 'validation-error', title: 'The request is invalid', status: 400 },
  /** The body is not parseable JSON. */
  MalformedJson: { slug: 'malformed-json', title: 'The body is not valid JSON', status: 400 },
  /** POST /v1/orders without an Idempotency-Key header. */
  IdempotencyKeyMissing: { slug: 'idempotency-key-missing', title: 'The Idempotency-Key header is required', status: 400 },
  /** Idempotency-Key empty, longer than 255, or not printable ASCII. */
  IdempotencyKeyInvalid: { slug: 'idempotency-key-invalid', title: 'The Idempotency-Key header is invalid', status: 400 },
  /** Missing, malformed or unknown bearer key. */
  Unauthorized: { slug: 'unauthorized', title: 'A valid API key is required', status: 401 },
  /** A payment webhook without a valid Gateway-Signature for its raw body. */
  WebhookSignatureInvalid: { slug: 'webhook-signature-invalid', title: 'The webhook signature is missing or invalid', status: 401 },
  /** A correctly signed payment webhook whose timestamp is outside the tolerance (a replay or a skewed clock). */
  WebhookTimestampStale: { slug: 'webhook-timestamp-stale', title: 'The webhook timestamp is outside the tolerance', status: 400 },
  /** No such resource for this tenant (another tenant's order is not found too). */
  NotFound: { slug: 'not-found', title: 'Not found', status: 404 },
  /** The first request with this key is still being processed; retry after Retry-After seconds. */
  IdempotencyKeyInUse: { slug: 'idempotency-key-in-use', title: 'A request with this Idempotency-Key is in progress', status: 409 },
  /** The order cannot be cancelled any more (after the pivot, or already finished). */
  OrderNotCancellable: { slug: 'order-not-cancellable', title: 'The order can no longer be cancelled', status: 409 },
  /** The body is larger than the API accepts. */
  PayloadTooLarge: { slug: 'payload-too-large', title: 'The body is too large', status: 413 },
  /** The Content-Type is not application/json. */
  UnsupportedMediaType: { slug: 'unsupported-media-type', title: 'Unsupported Content-Type', status: 415 },
  /** The Idempotency-Key was first used with a different body. */
  IdempotencyKeyReused: { slug: 'idempotency-key-reused', title: 'The Idempotency-Key was used with a different request', status: 422 },
  /** Any other client error Fastify raises (bad Content-Length, …). */
  BadRequest: { slug: 'bad-request', title: 'Bad request', status: 400 },
  /** A dependency (Temporal, Postgres) is unreachable; nothing was recorded as done. */
  ServiceUnavailable: { slug: 'service-unavailable', title: 'A dependency is unavailable; retry later', status: 503 },
  /** An unexpected failure; details are in the server log only. */
  InternalError: { slug: 'internal-error', title: 'Internal server error', status: 500 },
} as const;

export type ProblemKind = { readonly slug: string; readonly title: string; readonly status: number };

export type FieldError = { field: string; message: string };

export type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export function problemBody(kind: ProblemKind, extra: { detail?: string; instance?: string; errors?: FieldError[] } = {}): ProblemBody {
  return { type: `${PROBLEM_BASE}${kind.slug}`, title: kind.title, status: kind.status, ...extra };
}

/** Sends a problem as a pre-serialized string, so no response schema or serializer can alter it. */
export function sendProblem(reply: FastifyReply, kind: ProblemKind, extra: { detail?: string; instance?: string; errors?: FieldError[] } = {}): FastifyReply {
  return reply
    .code(kind.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(kind, extra)));
}
