// POST /v1/webhooks/payments (DESIGN §8): the gateway's signed `charge.*` events. No bearer auth: the
// HMAC over the raw body is the authentication. An event is recorded once by its ID and applied by
// signalling the order's saga `paymentConfirmed`; the saga waits only for the first signal.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { withTransaction } from '../../db/pool';
import { SIGNATURE_HEADER, verifySignature } from '../../gateway/signature';
import { paymentConfirmedSignal } from '../../../workflows/messages';
import { Problem, sendProblem } from '../problems';

export const WEBHOOK_ROUTE = '/v1/webhooks/payments';
const SIGNAL_TIMEOUT_MS = 5000;

export type WebhookOptions = {
  /** Shared with the gateway (config.gateway.webhookSecret). */
  secret: string;
  /** Seconds a signed timestamp may differ from our clock (config.gateway.webhookToleranceSeconds). */
  toleranceSeconds: number;
};

const EventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(100),
  data: z.object({
    charge: z.object({
      id: z.string().min(1).max(255),
      status: z.string().min(1).max(50),
      idempotencyKey: z.string().min(1).max(255),
    }),
  }),
});

/** The saga that made the charge: its key is `<workflowId>/<stepId>` (e.g. `order-<orderId>/charge`). */
export function workflowIdOfChargeKey(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  return slash > 0 ? key.slice(0, slash) : undefined;
}

type Answer = { received: true; eventId: string; duplicate: boolean; applied: 'signalled' | 'no-saga' | 'already-recorded' };

export const webhookRoutes =
  (deps: { pool: Pool; client: Client; webhook: WebhookOptions }): FastifyPluginAsync =>
  async (app) => {
    // The HMAC is over the bytes as sent: keep the raw string in this plugin and parse it ourselves.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.post(WEBHOOK_ROUTE, { schema: { summary: 'Signed payment events from the gateway (Gateway-Signature)' } }, async (request, reply) => {
      const raw = typeof request.body === 'string' ? request.body : '';
      const header = request.headers[SIGNATURE_HEADER.toLowerCase()];
      const verdict = verifySignature(deps.webhook.secret, typeof header === 'string' ? header : undefined, raw, deps.webhook.toleranceSeconds);
      if (!verdict.ok) {
        if (verdict.reason === 'stale') return sendProblem(reply, Problem.WebhookTimestampStale, { detail: `the signed timestamp is more than ${deps.webhook.toleranceSeconds} s from now` });
        return sendProblem(reply, Problem.WebhookSignatureInvalid, { detail: `send ${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` });
      }
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        return sendProblem(reply, Problem.MalformedJson);
      }
      const parsed = EventSchema.safeParse(json);
      if (!parsed.success) {
        const errors = parsed.error.issues.map((i) => ({ field: ['body', ...i.path.map(String)].join('.'), message: i.message }));
        return sendProblem(reply, Problem.ValidationError, { detail: 'the event does not match the schema', errors });
      }
      const event = parsed.data;
      const { charge } = event.data;
      const workflowId = workflowIdOfChargeKey(charge.idempotencyKey);

      // Record, signal, then commit: a committed row means its signal was sent. A crash or a failed
      // signal before the commit leaves no row, so the gateway's redelivery signals again (the saga
      // acts on the first signal only); a concurrent duplicate waits on the row lock, then sees it.
      const answer = await withTransaction(deps.pool, async (db): Promise<Answer> => {
        const inserted = await db.query(
          `INSERT INTO webhook_events (event_id, type, charge_id, idempotency_key) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
          [event.id, event.type, charge.id, charge.idempotencyKey],
        );
        if (inserted.rowCount === 0) return { received: true, eventId: event.id, duplicate: true, applied: 'already-recorded' };
        if (!workflowId) return { received: true, eventId: event.id, duplicate: false, applied: 'no-saga' };
        try {
          await deps.client.withDeadline(Date.now() + SIGNAL_TIMEOUT_MS, () =>
            deps.client.workflow.getHandle(workflowId).signal(paymentConfirmedSignal, { eventId: event.id, chargeId: charge.id, status: charge.status }),
          );
        } catch (err) {
          // The saga has finished (or never existed): there is nothing left to confirm; acknowledge.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          return { received: true, eventId: event.id, duplicate: false, applied: 'no-saga' };
        }
        return { received: true, eventId: event.id, duplicate: false, applied: 'signalled' };
      });
      request.log.info({ ...answer, workflowId }, 'payment webhook');
      return reply.code(200).send(answer);
    });
  };
