// POST /v1/webhooks/payments (DESIGN §8): the gateway's signed `charge.*` events. No bearer auth: the
// HMAC over the raw body is the authentication. An event is recorded once by its ID and applied by
// signalling the order's saga `paymentConfirmed`; the saga acts only on the first signal.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { SIGNATURE_HEADER, verifySignature } from '../../../gateway/signature';
import { paymentConfirmedSignal } from '../../workflows/messages';
import { Problem, type ProblemKind, sendProblem } from '../problems';
import { ProblemSchema } from '../schemas';
import {
  type WebhookEventRecord,
  markWebhookEventSignalled,
  readWebhookEvent,
  recordWebhookEvent,
  releaseWebhookEventClaim,
  takeOverWebhookEvent,
} from '../webhook-events';

export const WEBHOOK_ROUTE = '/v1/webhooks/payments';
const SIGNAL_TIMEOUT_MS = 5000;
/** Longer than a signal can take (its deadline plus the bookkeeping), so a live handler is never taken over. */
export const DEFAULT_CLAIM_WINDOW_SECONDS = 10;
/** How long a redelivery racing the first handler waits for it (polling, no connection held) before answering 409. */
const RACE_WAIT_MS = 2000;
const RACE_POLL_MS = 50;

/** The events this route applies: the ones the gateway sends (apps/gateway/webhooks.ts). Any other type is acknowledged and ignored. */
export const ROUTED_EVENT_TYPES: readonly string[] = ['charge.succeeded'];
/** A charge key made by the order saga: `<workflowIdFor(orderIdFor(…))>/charge`, i.e. `order-ord_<24 lowercase hex>/charge`. */
const ORDER_CHARGE_KEY = /^(order-ord_[0-9a-f]{24})\/charge$/;

/** A redelivery while the first handler may still be signalling: retry after Retry-After seconds. */
const WebhookEventInProgress: ProblemKind = { slug: 'webhook-event-in-progress', title: 'This event is being applied by another delivery', status: 409 };

export type WebhookOptions = {
  /** Shared with the gateway (config.gateway.webhookSecret). */
  secret: string;
  /** Seconds a signed timestamp may differ from our clock (config.gateway.webhookToleranceSeconds). */
  toleranceSeconds: number;
  /** After this many seconds a recorded but unsignalled event is taken over by a redelivery (default 10). */
  claimWindowSeconds?: number;
};

const EnvelopeSchema = z.object({ id: z.string().min(1).max(255), type: z.string().min(1).max(100) });
const ChargeEventSchema = EnvelopeSchema.extend({
  data: z.object({
    charge: z.object({
      id: z.string().min(1).max(255),
      status: z.string().min(1).max(50),
      idempotencyKey: z.string().min(1).max(255),
    }),
  }),
});

/** The order saga that made the charge, or undefined when the key is not of the shape the saga makes. */
export function workflowIdOfChargeKey(key: string): string | undefined {
  return ORDER_CHARGE_KEY.exec(key)?.[1];
}

/** signalled: the saga got `paymentConfirmed`; no-saga: it has closed (or never existed); already-recorded: a redelivery of an applied event; ignored: not an event this route applies (not recorded). */
const WebhookAnswerSchema = z
  .object({
    received: z.literal(true),
    eventId: z.string(),
    duplicate: z.boolean(),
    applied: z.enum(['signalled', 'no-saga', 'already-recorded', 'ignored']),
    reason: z.string().optional(),
  })
  .describe('The event was received: applied, recognised as a redelivery, or ignored');
export type WebhookAnswer = z.infer<typeof WebhookAnswerSchema>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const webhookRoutes =
  (deps: { pool: Pool; client: Client; webhook: WebhookOptions }): FastifyPluginAsync =>
  async (app) => {
    const claimWindowSeconds = deps.webhook.claimWindowSeconds ?? DEFAULT_CLAIM_WINDOW_SECONDS;
    // The HMAC is over the bytes as sent: keep the raw string in this plugin and parse it ourselves.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.post(
      WEBHOOK_ROUTE,
      {
        schema: {
          summary: 'Signed payment events from the gateway (Gateway-Signature)',
          response: {
            200: WebhookAnswerSchema,
            400: ProblemSchema.describe('Malformed, not matching the event schema, or signed too long ago'),
            401: ProblemSchema.describe('The Gateway-Signature is missing or does not match the body'),
            409: ProblemSchema.describe('Another delivery of this event is being applied; see Retry-After'),
            503: ProblemSchema.describe('Temporal is unavailable; the event was not applied; see Retry-After'),
          },
        },
      },
      async (request, reply) => {
        const raw = typeof request.body === 'string' ? request.body : '';
        const header = request.headers[SIGNATURE_HEADER.toLowerCase()];
        const verdict = verifySignature(deps.webhook.secret, typeof header === 'string' ? header : undefined, raw, deps.webhook.toleranceSeconds);
        if (!verdict.ok) {
          if (verdict.reason === 'stale')
            return sendProblem(reply, Problem.WebhookTimestampStale, {
              detail: `the signed timestamp is more than ${deps.webhook.toleranceSeconds} s from now`,
            });
          return sendProblem(reply, Problem.WebhookSignatureInvalid, {
            detail: `send ${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`,
          });
        }
        let json: unknown;
        try {
          json = JSON.parse(raw);
        } catch {
          return sendProblem(reply, Problem.MalformedJson);
        }
        const badSchema = (error: z.ZodError): FastifyReply => {
          const errors = error.issues.map((i) => ({ field: ['body', ...i.path.map(String)].join('.'), message: i.message }));
          return sendProblem(reply, Problem.ValidationError, { detail: 'the event does not match the schema', errors });
        };
        // Only routed types with a key of the saga's shape reach a saga; anything else is acknowledged, never recorded or signalled.
        const ignore = (eventId: string, reason: string, fields: Record<string, string>): FastifyReply => {
          const answer: WebhookAnswer = { received: true, eventId, duplicate: false, applied: 'ignored', reason };
          request.log.warn({ ...answer, ...fields }, 'payment webhook ignored');
          return reply.code(200).send(answer);
        };
        const envelope = EnvelopeSchema.safeParse(json);
        if (!envelope.success) return badSchema(envelope.error);
        if (!ROUTED_EVENT_TYPES.includes(envelope.data.type)) {
          return ignore(envelope.data.id, `event type ${JSON.stringify(envelope.data.type)} is not routed`, { type: envelope.data.type });
        }
        const parsed = ChargeEventSchema.safeParse(json);
        if (!parsed.success) return badSchema(parsed.error);
        const event = parsed.data;
        const { charge } = event.data;
        const workflowId = workflowIdOfChargeKey(charge.idempotencyKey);
        if (workflowId === undefined) return ignore(event.id, 'the charge key is not an order saga key', { idempotencyKey: charge.idempotencyKey });

        const signal = async (id: string): Promise<'signalled' | 'no-saga'> => {
          try {
            await deps.client.withDeadline(Date.now() + SIGNAL_TIMEOUT_MS, () =>
              deps.client.workflow.getHandle(id).signal(paymentConfirmedSignal, { eventId: event.id, chargeId: charge.id, status: charge.status }),
            );
            return 'signalled';
          } catch (err) {
            // The saga has finished (or never existed): there is nothing left to confirm.
            if (err instanceof WorkflowNotFoundError) return 'no-saga';
            throw err;
          }
        };

        // Record (committed), signal, then mark signalled: no statement waits on the signal, and every
        // statement autocommits, so no connection is held across it. A crash or a failed signal leaves
        // the row unsignalled; a redelivery takes it over (released at once, or after the claim window).
        const record: WebhookEventRecord = { eventId: event.id, type: event.type, chargeId: charge.id, idempotencyKey: charge.idempotencyKey };
        let held = await recordWebhookEvent(deps.pool, record);
        const raceDeadline = Date.now() + RACE_WAIT_MS;
        while (!held) {
          held = await takeOverWebhookEvent(deps.pool, event.id, claimWindowSeconds);
          if (held) break;
          const state = await readWebhookEvent(deps.pool, event.id, claimWindowSeconds);
          if (state === undefined) {
            // Pruned between our insert attempt and now: record it afresh.
            held = await recordWebhookEvent(deps.pool, record);
            continue;
          }
          if (state.signalled) {
            const answer: WebhookAnswer = { received: true, eventId: event.id, duplicate: true, applied: 'already-recorded' };
            request.log.info({ ...answer, workflowId }, 'payment webhook');
            return reply.code(200).send(answer);
          }
          if (Date.now() >= raceDeadline) {
            const retryAfter = Math.max(1, Math.ceil(state.claimExpiresInSeconds));
            return sendProblem(reply.header('retry-after', String(retryAfter)), WebhookEventInProgress, {
              detail: `event ${event.id} is being applied by another delivery; retry after ${retryAfter} s`,
            });
          }
          await sleep(RACE_POLL_MS);
        }

        let applied: 'signalled' | 'no-saga';
        try {
          applied = await signal(workflowId);
        } catch (err) {
          // Give the claim back so the gateway's redelivery signals at once; the row stays unsignalled.
          await releaseWebhookEventClaim(deps.pool, event.id).catch((releaseErr: unknown) =>
            request.log.warn({ err: releaseErr, eventId: event.id }, 'could not release the webhook claim; it lapses after the claim window'),
          );
          request.log.warn({ err, eventId: event.id, workflowId }, 'payment webhook: signal failed');
          return sendProblem(reply.header('retry-after', '1'), Problem.ServiceUnavailable, {
            detail: 'the saga could not be signalled; the event was not applied',
          });
        }
        await markWebhookEventSignalled(deps.pool, event.id);
        const answer: WebhookAnswer = { received: true, eventId: event.id, duplicate: false, applied };
        request.log.info({ ...answer, workflowId }, 'payment webhook');
        return reply.code(200).send(answer);
      },
    );
  };
