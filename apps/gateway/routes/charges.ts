// POST /charges, GET /charges/by-key/:key, GET /charges/:id.
import type { FastifyInstance } from 'fastify';
import { fingerprint } from 'idempotent-sagas/store';
import { chargeOnce, findChargeById, findChargeByKey, recordAttempt } from '../charges';
import { dropAnswer, holdAnswer } from '../lost-answers';
import { sendError, sendInvalid, sendUnavailable, sleep } from '../replies';
import { chargeRequestSchema, idempotencyKeySchema } from '../schemas';
import type { GatewayDeps } from './deps';

export function chargeRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const { pool, faults } = deps;

  app.post('/charges', async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined) return sendError(reply, 400, 'idempotency_key_missing');
    const key = idempotencyKeySchema.safeParse(header);
    if (!key.success) return sendError(reply, 400, 'idempotency_key_invalid', { message: '1–255 printable ASCII characters' });
    const body = chargeRequestSchema.safeParse(request.body);
    if (!body.success) return sendInvalid(reply, body.error);

    // Counted on arrival, before the injected latency: a caller that dies while waiting still made an attempt.
    const attempt = await recordAttempt(pool, key.data);
    await sleep(faults.latencyMs);
    const plan = faults.planCharge(body.data.paymentToken, attempt);
    if (plan.serverError) return sendUnavailable(reply);

    const { amount, currency, paymentToken, orderId } = body.data;
    const result = await chargeOnce(
      pool,
      { key: key.data, fingerprint: fingerprint(body.data), amount, currency, paymentToken, orderId },
      plan.outcome,
      faults.ignoresIdempotencyKeys,
    );
    if (result.kind === 'key_aborted') {
      return sendError(reply, 409, 'key_aborted', { message: 'a refund for this key arrived first; it will never be charged' });
    }
    if (result.kind === 'fingerprint_mismatch') {
      return sendError(reply, 422, 'idempotency_key_reused', { message: 'this key was first used with a different request' });
    }
    const { answer } = result;
    if (!answer.replayed && answer.charge.status === 'pending') deps.webhooks?.scheduleConfirmation(answer.charge.id);

    if (plan.after.kind === 'drop') {
      dropAnswer(request, reply);
      return reply;
    }
    if (plan.after.kind === 'hang' && !(await holdAnswer(request, reply, plan.after.ms, deps.shutdown))) return reply;
    if (answer.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(answer.statusCode).type('application/json').send(answer.body);
  });

  app.get<{ Params: { key: string } }>('/charges/by-key/:key', async (request, reply) => {
    const key = idempotencyKeySchema.safeParse(request.params.key);
    if (!key.success) return sendError(reply, 400, 'idempotency_key_invalid');
    if (faults.lookupServerError()) return sendUnavailable(reply);
    const found = await findChargeByKey(pool, key.data);
    if (!found.charge) return sendError(reply, 404, 'not_found', { tombstoned: found.tombstoned });
    return found.charge;
  });

  app.get<{ Params: { id: string } }>('/charges/:id', async (request, reply) => {
    const charge = await findChargeById(pool, request.params.id);
    return charge ?? sendError(reply, 404, 'not_found');
  });
}
