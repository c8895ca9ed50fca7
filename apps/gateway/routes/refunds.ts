// POST /refunds: by charge id or by the charge's idempotency key; one refund per charge.
import type { FastifyInstance } from 'fastify';
import { recordAttempt } from '../charges';
import { refundOnce } from '../refunds';
import type { RefundRequest } from '../schemas';
import { sendError, sendInvalid, sendUnavailable, sleep } from '../replies';
import { refundRequestSchema } from '../schemas';
import type { GatewayDeps } from './deps';

export function refundRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  app.post('/refunds', async (request, reply) => {
    const body = refundRequestSchema.safeParse(request.body);
    if (!body.success) return sendInvalid(reply, body.error);
    await sleep(deps.faults.latencyMs);
    if (deps.faults.refundServerError()) return sendUnavailable(reply);
    if (await magicRefundFailure(deps, body.data)) return sendUnavailable(reply);
    const outcome = await refundOnce(deps.pool, body.data);
    if (outcome.kind === 'charge_not_found') return sendError(reply, 404, 'charge_not_found');
    return reply.code(outcome.created ? 201 : 200).send(outcome.result);
  });
}

/** `tok_refund_fail_<N>`: the first N refund attempts of such a charge fail before anything is applied. */
async function magicRefundFailure(deps: GatewayDeps, request: RefundRequest): Promise<boolean> {
  const { rows } = await deps.pool.query<{ payment_token: string; idempotency_key: string }>(
    'SELECT payment_token, idempotency_key FROM gateway_charges WHERE id = $1 OR idempotency_key = $2',
    ['chargeId' in request ? request.chargeId : null, 'idempotencyKey' in request ? request.idempotencyKey : null],
  );
  const charge = rows[0];
  if (!charge || !deps.faults.refundAttemptFails(charge.payment_token, 1)) return false;
  const attempt = await recordAttempt(deps.pool, `refund:${charge.idempotency_key}`.slice(0, 255));
  return deps.faults.refundAttemptFails(charge.payment_token, attempt);
}
