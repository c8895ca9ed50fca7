// The ticket-booking saga: hold seats → wait for payment (the hold expires on a timer) → charge →
// issue tickets (the pivot). Compensation releases the hold and refunds. Only the library's workflow
// entry and Temporal's SDK are imported: this file is bundled into the workflow sandbox.
import { ApplicationFailure, condition, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import { Saga, describeFailure, handleOperatorDecisions, sagaStateQuery } from 'idempotent-sagas/workflow';
import type { BookingActivities, Issued } from './activities';

export type BookingInput = {
  bookingId: string;
  showId: string;
  seats: string[];
  amountCents: number;
  /** Pay at once; without it the booking waits for the submitPayment signal until the hold expires. */
  paymentToken?: string;
  /** How long seats stay held without payment (ms). Default 15 minutes. */
  holdTtlMs?: number;
};

export type BookingResult = { status: 'BOOKED'; tickets: string[] } | { status: 'CANCELLED'; reason: string };

/** The customer's payment, when it arrives after the seats were held. */
export const submitPaymentSignal = defineSignal<[{ paymentToken: string }]>('submitPayment');

export const HOLD_EXPIRED = 'HOLD_EXPIRED';

const retry = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '2 seconds' };
const acts = proxyActivities<BookingActivities>({ startToCloseTimeout: '10 seconds', retry });
/** The charge heartbeats while the provider call is in flight: a dead worker's attempt is retried within seconds. */
const payments = proxyActivities<BookingActivities>({ startToCloseTimeout: '30 seconds', heartbeatTimeout: '2 seconds', retry });

export async function bookTickets(input: BookingInput): Promise<BookingResult> {
  const { workflowId } = workflowInfo();
  const saga = new Saga({ workflowId, stuckRetryIntervalMs: 60_000 });
  let paymentToken = input.paymentToken;
  setHandler(submitPaymentSignal, ({ paymentToken: token }) => void (paymentToken ??= token));
  setHandler(sagaStateQuery, () => saga.state());
  handleOperatorDecisions(saga);

  let issued: Issued;
  try {
    await saga.step(
      'hold-seats',
      (k) => acts.holdSeats({ key: k.forwardKey, bookingId: input.bookingId, showId: input.showId, seats: input.seats }),
      (k) => acts.releaseSeats({ forwardKey: k.forwardKey, bookingId: input.bookingId }),
    );
    // The hold lasts until payment arrives or its timer fires, whichever is first.
    if (!(await condition(() => paymentToken !== undefined, input.holdTtlMs ?? 15 * 60_000))) {
      throw ApplicationFailure.nonRetryable('the hold expired before payment arrived', HOLD_EXPIRED);
    }
    const token = paymentToken!;
    await saga.step(
      'charge',
      (k) => payments.chargeCard({ key: k.forwardKey, bookingId: input.bookingId, amountCents: input.amountCents, paymentToken: token }),
      (k) => payments.refundCard({ forwardKey: k.forwardKey, compensationKey: k.compensationKey, bookingId: input.bookingId }),
    );
    issued = await saga.pivot('issue-tickets', (k) => acts.issueTickets({ key: k.forwardKey, bookingId: input.bookingId }));
  } catch (err) {
    const reason = describeFailure(err).message;
    await saga.compensate(reason);
    await acts.closeSaga({ sagaId: workflowId, outcome: 'COMPENSATED' });
    return { status: 'CANCELLED', reason };
  }
  saga.complete();
  await acts.closeSaga({ sagaId: workflowId, outcome: 'COMPLETED' });
  return { status: 'BOOKED', tickets: issued.tickets };
}
