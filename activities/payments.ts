// Payment activities: the charge is an external effect (DESIGN §4): claimed under a fenced lease,
// sent with our key as the gateway's Idempotency-Key, stored only by the current epoch.
import { Context } from '@temporalio/activity';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import { GatewayAmbiguousError } from '../src/errors';
import { BusinessFailure, StaleEpochError } from 'idempotent-sagas/store';
import * as sql from '../src/domain/orders-sql';
import { CurrencySchema, OrderFailure } from '../src/domain/types';
import { assertOwnKey, attemptOwner, ownSagaId, parseInput, translated } from 'idempotent-sagas/activity';
import { STEP_SCOPE, type ActivityDeps } from './deps';

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
const ReconcileInput = ChargeInput;

/** Keeps our lease and Temporal's heartbeat alive while a gateway call is in flight. */
async function whileLeased<T>(deps: ActivityDeps, ref: { key: string; epoch: number }, call: () => Promise<T>): Promise<T> {
  const beat = setInterval(
    () => {
      Context.current().heartbeat();
      deps.store.heartbeatLease({ scope: STEP_SCOPE, key: ref.key, epoch: ref.epoch, leaseMs: deps.leaseMs }).catch(() => undefined); // fenced or DB hiccup: the final write is fenced anyway
    },
    Math.max(50, Math.floor(deps.leaseMs / 3)),
  );
  try {
    return await call();
  } finally {
    clearInterval(beat);
  }
}

export function createPaymentActivities(deps: ActivityDeps) {
  const { store, gateway, pool } = deps;

  /** Records what the gateway definitively said, by our epoch only, and mirrors a capture into payments in the same transaction. */
  async function settle(input: ChargeInput, epoch: number, answer: Awaited<ReturnType<typeof gateway.charge>>): Promise<ChargeOutcome> {
    if (answer.kind === 'declined') {
      const failure = new BusinessFailure(OrderFailure.CardDeclined, `card declined: ${answer.declineCode}`, { declineCode: answer.declineCode });
      await store.failLease({ scope: STEP_SCOPE, key: input.key, epoch, failure });
      throw failure;
    }
    const outcome: ChargeOutcome = {
      chargeId: answer.charge.id,
      amountCents: answer.charge.amount,
      status: answer.kind === 'pending' ? 'pending' : 'captured',
    };
    if (outcome.status === 'captured') {
      await store.completeLease({
        scope: STEP_SCOPE,
        key: input.key,
        epoch,
        result: outcome,
        inTransaction: (client) => recordPayment(client, input, outcome),
      });
    } else {
      // Pending: the outcome is not definitive yet; keep the key in progress for the webhook or reconciliation.
      await store.releaseLease({ scope: STEP_SCOPE, key: input.key, epoch });
    }
    return outcome;
  }

  /** Idempotent (one payment per order): re-applied whenever a retry finds the charge already recorded. */
  async function recordPayment(db: typeof pool | PoolClient, input: ChargeInput, outcome: ChargeOutcome): Promise<void> {
    await sql.upsertCapturedPayment(db, {
      orderId: input.orderId,
      idempotencyKey: input.key,
      chargeId: outcome.chargeId,
      amountCents: outcome.amountCents,
      currency: input.currency,
    });
  }

  /** Claims the charge's key for this attempt; a stored outcome is replayed (and mirrored into payments). */
  async function claimCharge(input: ChargeInput) {
    const claim = await store.claimLease<ChargeOutcome>({
      scope: STEP_SCOPE,
      key: input.key,
      sagaId: ownSagaId(),
      request: input,
      owner: attemptOwner(),
      leaseMs: deps.leaseMs,
    });
    if (claim.kind === 'replayed') await recordPayment(pool, input, claim.result);
    return claim;
  }

  return {
    /**
     * Charges the order total once. An ambiguous gateway answer (timeout, 5xx, dropped
     * connection) leaves the key in progress and fails retryably; the next attempt asks again
     * with the same key and the gateway answers from its own record.
     */
    async chargePayment(raw: ChargeInput): Promise<ChargeOutcome> {
      const input = parseInput(ChargeInput, raw);
      assertOwnKey(input.key);
      return translated(async () => {
        const claim = await claimCharge(input);
        if (claim.kind === 'replayed') return claim.result;
        const { epoch } = claim;
        // At most once: an earlier attempt claimed the key and may have sent; never send again, look it up.
        if (deps.chargeStepKind === 'at-most-once' && claim.attempt > 1) return reconcileClaimed(input, epoch);
        let answer;
        try {
          answer = await whileLeased(deps, { key: input.key, epoch }, () =>
            gateway.charge(input.key, { amount: input.amountCents, currency: input.currency, paymentToken: input.paymentToken, orderId: input.orderId }),
          );
        } catch (err) {
          if (err instanceof GatewayAmbiguousError) {
            await store.releaseLease({ scope: STEP_SCOPE, key: input.key, epoch }).catch(() => undefined);
          }
          throw err;
        }
        return settle(input, epoch, answer);
      });
    },

    /**
     * Resolves an ambiguity that outlived the retries by asking the gateway by key. Returns the
     * stored outcome when the charge exists; PAYMENT_NOT_CONFIRMED when the gateway never saw it.
     */
    async reconcileCharge(raw: ChargeInput): Promise<ChargeOutcome> {
      const input = parseInput(ReconcileInput, raw);
      assertOwnKey(input.key);
      return translated(async () => {
        const claim = await claimCharge(input);
        if (claim.kind === 'replayed') return claim.result;
        return reconcileClaimed(input, claim.epoch);
      });
    },

    /**
     * Compensation of the charge: waits out a live forward lease, fences it, then refunds by
     * charge ID (applied) or by our key (uncertain, or no record at all: the gateway refunds a charge
     * it holds under the key and tombstones a key it never saw). The payments mirror is written in
     * the transaction that records the refund, and again whenever a retry finds it done.
     */
    async refundPayment(raw: z.infer<typeof RefundInput>): Promise<string> {
      const input = parseInput(RefundInput, raw);
      assertOwnKey(input.forwardKey, input.compensationKey);
      return translated(async () => {
        const fence = await store.fenceForCompensation<ChargeOutcome>({
          scope: STEP_SCOPE,
          key: input.forwardKey,
          sagaId: ownSagaId(),
          owner: attemptOwner(),
          leaseMs: deps.leaseMs,
        });
        if (fence.kind === 'not-applied') return fence.kind;
        const mirror = (refundId: string | null) => (db: typeof pool | PoolClient) => sql.markPaymentRefunded(db, input.orderId, refundId, input.forwardKey);
        if (fence.kind === 'done') {
          if (fence.status === 'compensated') await mirror(null)(pool);
          return `already-${fence.status}`;
        }
        const refund = await gateway.refund(fence.kind === 'applied' ? { chargeId: fence.result.chargeId } : { idempotencyKey: input.forwardKey });
        const refunded = refund.status === 'refunded';
        if (fence.kind === 'tombstoned') {
          // No record was found: the tombstone is ours; the gateway's answer says whether a charge was there to undo.
          if (!refunded) return 'tombstoned';
          await store.markCompensated({ scope: STEP_SCOPE, key: input.forwardKey, epoch: 0, status: 'compensated', inTransaction: mirror(refund.refundId) });
          return 'compensated-by-key';
        }
        const undone = refunded ? 'compensated' : 'aborted';
        try {
          await store.markCompensated({
            scope: STEP_SCOPE,
            key: input.forwardKey,
            epoch: fence.epoch,
            status: undone,
            ...(refunded && { inTransaction: mirror(refund.refundId) }),
          });
        } catch (err) {
          // A newer compensation attempt fenced us; it records the same refund (refunds are idempotent per charge).
          if (!(err instanceof StaleEpochError)) throw err;
        }
        return undone;
      });
    },
  };

  /**
   * Asks the gateway by key, under our claim at `epoch`: a definitive charge is stored; none (or one
   * still pending) is PAYMENT_NOT_CONFIRMED, and the saga compensates (refunding by key).
   */
  async function reconcileClaimed(input: ChargeInput, epoch: number): Promise<ChargeOutcome> {
    let charge;
    try {
      charge = await gateway.getChargeByKey(input.key);
    } catch (err) {
      // The gateway did not answer: nothing was decided; the next attempt may take over at once.
      if (err instanceof GatewayAmbiguousError) await store.releaseLease({ scope: STEP_SCOPE, key: input.key, epoch }).catch(() => undefined);
      throw err;
    }
    if (charge && charge.status !== 'pending') {
      return settle(
        input,
        epoch,
        charge.status === 'declined' ? { kind: 'declined', declineCode: charge.declineCode ?? 'card_declined', charge } : { kind: 'succeeded', charge },
      );
    }
    await store.releaseLease({ scope: STEP_SCOPE, key: input.key, epoch });
    throw new BusinessFailure(
      OrderFailure.PaymentNotConfirmed,
      charge ? 'the charge is still pending at the gateway' : 'the gateway has no charge for this key',
      { key: input.key, pending: Boolean(charge) },
    );
  }
}
