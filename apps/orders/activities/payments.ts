// Payment activities: the charge is an external effect (DESIGN §4): claimed under a fenced lease, sent
// with our key as the gateway's Idempotency-Key, stored only by the current epoch. With a provider that
// honours no key, the same step runs as at-most-once: only its first attempt ever calls.
import { BusinessFailure, type ProviderAnswer, type StepKinds } from 'idempotent-sagas/activity';
import { z } from 'zod';
import type { ChargeAnswer } from '../../gateway/client';
import * as sql from '../domain/orders-sql';
import { CurrencySchema, OrderFailure } from '../domain/types';
import type { ActivityDeps } from './deps';

const Key = z.string().min(1).max(255);
const ChargeInput = z.object({
  key: Key,
  orderId: z.string().min(1).max(100),
  amountCents: z.number().int().positive(),
  currency: CurrencySchema,
  paymentToken: z.string().min(1).max(255),
});
export type ChargeInput = z.infer<typeof ChargeInput>;
export type ChargeOutcome = { chargeId: string; amountCents: number; status: 'captured' | 'pending' };

const RefundInput = z.object({ forwardKey: Key, compensationKey: Key, orderId: z.string().min(1).max(100) });

/** The gateway's answer in the step kinds' terms: a capture applied, a decline refused, a pending charge open. */
function providerAnswer(answer: ChargeAnswer): ProviderAnswer<ChargeOutcome> {
  if (answer.kind === 'declined') {
    return {
      outcome: 'refused',
      failure: new BusinessFailure(OrderFailure.CardDeclined, `card declined: ${answer.declineCode}`, { declineCode: answer.declineCode }),
    };
  }
  const result: ChargeOutcome = { chargeId: answer.charge.id, amountCents: answer.charge.amount, status: answer.kind === 'pending' ? 'pending' : 'captured' };
  return answer.kind === 'pending' ? { outcome: 'pending', result } : { outcome: 'applied', result };
}

export function createPaymentActivities({ gateway, chargeStepKind }: ActivityDeps, steps: StepKinds) {
  const charge = {
    input: ChargeInput,
    /** Charges the order total with our key; an ambiguous answer (timeout, 5xx, dropped connection) throws and is retried. */
    call: async (input: ChargeInput, key: string) =>
      providerAnswer(
        await gateway.charge(key, { amount: input.amountCents, currency: input.currency, paymentToken: input.paymentToken, orderId: input.orderId }),
      ),
    /** The charge the gateway holds under our key, if any. */
    lookup: async (_input: ChargeInput, key: string) => {
      const found = await gateway.getChargeByKey(key);
      if (!found) return undefined;
      if (found.status === 'declined') return providerAnswer({ kind: 'declined', declineCode: found.declineCode ?? 'card_declined', charge: found });
      return providerAnswer({ kind: found.status, charge: found });
    },
    /** One payment row per order: written with the stored capture, and again whenever a retry replays it. */
    record: async (db: Parameters<typeof sql.upsertCapturedPayment>[0], input: ChargeInput, outcome: ChargeOutcome) => {
      if (outcome.status !== 'captured') return;
      await sql.upsertCapturedPayment(db, {
        orderId: input.orderId,
        idempotencyKey: input.key,
        chargeId: outcome.chargeId,
        amountCents: outcome.amountCents,
        currency: input.currency,
      });
    },
    notConfirmed: (input: ChargeInput, pending: boolean) =>
      new BusinessFailure(OrderFailure.PaymentNotConfirmed, pending ? 'the charge is still pending at the gateway' : 'the gateway has no charge for this key', {
        key: input.key,
        pending,
      }),
  };
  const step = chargeStepKind === 'at-most-once' ? steps.atMostOnce(charge) : steps.external(charge);

  return {
    /** Charges the order total once (external: the gateway dedups by our key; at-most-once: only the first attempt sends). */
    chargePayment: step.execute,

    /**
     * Resolves an ambiguity that outlived the retries by asking the gateway by key: the stored outcome
     * when the charge exists; PAYMENT_NOT_CONFIRMED when the gateway never saw it (or it is still pending).
     */
    reconcileCharge: step.reconcile,

    /**
     * Compensation of the charge: waits out a live forward lease, fences it, then refunds by charge ID
     * (applied) or by our key (uncertain, or no record at all: the gateway refunds a charge it holds
     * under the key and tombstones a key it never saw). The payments mirror commits with the record.
     */
    refundPayment: steps.compensateExternal({
      input: RefundInput,
      ownKeys: (input) => [input.compensationKey],
      undo: async (_input, target: { applied: ChargeOutcome } | { key: string }) => {
        const refund = await gateway.refund('applied' in target ? { chargeId: target.applied.chargeId } : { idempotencyKey: target.key });
        return { undone: refund.status === 'refunded', refundId: refund.status === 'refunded' ? refund.refundId : null };
      },
      record: (db, input, refund) => sql.markPaymentRefunded(db, input.orderId, refund?.refundId ?? null, input.forwardKey),
    }),
  };
}
