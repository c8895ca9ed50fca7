// The booking's activities, each one of the library's step kinds: holding seats and issuing tickets are
// local effects (exactly once, in the transaction of their record); the charge is an external effect
// sent with the step's key as the provider's idempotency key.
import { BusinessFailure, defineSteps, type StepHooks } from 'idempotent-sagas/activity';
import type { IdempotencyStore } from 'idempotent-sagas/store';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import type { PaymentProvider, ProviderCharge } from './provider';

export const BookingFailure = { SeatsTaken: 'SEATS_TAKEN', UnknownSeat: 'UNKNOWN_SEAT', CardDeclined: 'CARD_DECLINED' } as const;

const Key = z.string().min(1).max(255);
const BookingId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);
const HoldInput = z.object({ key: Key, bookingId: BookingId, showId: z.string().min(1).max(100), seats: z.array(z.string().min(1).max(20)).min(1).max(20) });
const ReleaseInput = z.object({ forwardKey: Key, bookingId: BookingId });
const ChargeInput = z.object({ key: Key, bookingId: BookingId, amountCents: z.number().int().positive(), paymentToken: z.string().min(1).max(100) });
const RefundInput = z.object({ forwardKey: Key, compensationKey: Key, bookingId: BookingId });
const IssueInput = z.object({ key: Key, bookingId: BookingId });

export type Held = { showId: string; seats: string[] };
export type Charged = { chargeId: string; amountCents: number };
export type Issued = { tickets: string[] };

/** What the activities are built from. */
export type BookingDeps = { store: IdempotencyStore; provider: PaymentProvider; leaseMs?: number; hooks?: StepHooks };

const releaseHolds = async (client: PoolClient, bookingId: string): Promise<number> =>
  (await client.query(`UPDATE seat_holds SET released_at = now() WHERE booking_id = $1 AND released_at IS NULL AND ticketed_at IS NULL`, [bookingId]))
    .rowCount ?? 0;

const asAnswer = (charge: ProviderCharge) =>
  charge.status === 'declined'
    ? { outcome: 'refused' as const, failure: new BusinessFailure(BookingFailure.CardDeclined, 'card declined', { chargeId: charge.chargeId }) }
    : { outcome: 'applied' as const, result: { chargeId: charge.chargeId, amountCents: charge.amountCents } };

export function createBookingActivities(deps: BookingDeps) {
  const steps = defineSteps({ store: deps.store, ...(deps.leaseMs && { leaseMs: deps.leaseMs }), ...(deps.hooks && { hooks: deps.hooks }) });
  const charge = steps.external({
    input: ChargeInput,
    call: async (input, key): Promise<ReturnType<typeof asAnswer>> =>
      asAnswer(await deps.provider.charge(key, { bookingId: input.bookingId, amountCents: input.amountCents, paymentToken: input.paymentToken })),
    lookup: async (_input, key) => {
      const found = await deps.provider.lookup(key);
      return found && asAnswer(found);
    },
  });
  return {
    /** Holds free seats for the booking; SEATS_TAKEN if any is held or sold. */
    holdSeats: steps.local({
      input: HoldInput,
      effect: async (client, input): Promise<Held> => {
        const { rows } = await client.query<{ seat_no: string }>(`SELECT seat_no FROM seats WHERE show_id = $1 AND seat_no = ANY($2) FOR UPDATE`, [
          input.showId,
          input.seats,
        ]);
        const unknown = input.seats.filter((s) => !rows.some((r) => r.seat_no === s));
        if (unknown.length > 0) throw new BusinessFailure(BookingFailure.UnknownSeat, `unknown seats: ${unknown.join(', ')}`, { unknown });
        const taken = await client.query<{ seat_no: string }>(
          `SELECT seat_no FROM seat_holds WHERE show_id = $1 AND seat_no = ANY($2) AND released_at IS NULL`,
          [input.showId, input.seats],
        );
        if (taken.rows.length > 0) throw new BusinessFailure(BookingFailure.SeatsTaken, `seats taken: ${taken.rows.map((r) => r.seat_no).join(', ')}`);
        await client.query(`INSERT INTO seat_holds (booking_id, show_id, seat_no) SELECT $1, $2, unnest($3::text[])`, [
          input.bookingId,
          input.showId,
          input.seats,
        ]);
        return { showId: input.showId, seats: input.seats };
      },
    }),

    /** Compensation: releases the booking's holds (by natural key too, should the record be gone). */
    releaseSeats: steps.compensateLocal({
      input: ReleaseInput,
      undo: async (client, _held: Held, input) => void (await releaseHolds(client, input.bookingId)),
      undoByNaturalKey: async (client, input) => (await releaseHolds(client, input.bookingId)) > 0,
    }),

    /** Charges the booking once: the provider dedups by our key, so a retry after a lost answer is safe. */
    chargeCard: charge.execute,

    /** Compensation: refunds by charge ID, or by key when the charge's outcome is unknown. */
    refundCard: steps.compensateExternal({
      input: RefundInput,
      ownKeys: (input) => [input.compensationKey],
      undo: async (_input, target: { applied: Charged } | { key: string }) => {
        const { refunded } = await deps.provider.refund('applied' in target ? { chargeId: target.applied.chargeId } : { key: target.key });
        return { undone: refunded };
      },
    }),

    /** The pivot: the held seats become tickets. */
    issueTickets: steps.local({
      input: IssueInput,
      effect: async (client, input): Promise<Issued> => {
        const { rows } = await client.query<{ id: string }>(
          `WITH held AS (UPDATE seat_holds SET ticketed_at = now() WHERE booking_id = $1 AND released_at IS NULL AND ticketed_at IS NULL
                         RETURNING booking_id, show_id, seat_no)
           INSERT INTO tickets (booking_id, show_id, seat_no) SELECT booking_id, show_id, seat_no FROM held RETURNING id`,
          [input.bookingId],
        );
        return { tickets: rows.map((r) => `tkt_${r.id}`) };
      },
    }),

    /** The end of the saga's life: its records' retention starts. */
    closeSaga: steps.closeSaga(),
  };
}

export type BookingActivities = ReturnType<typeof createBookingActivities>;
