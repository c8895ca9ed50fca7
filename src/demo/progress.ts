// The demo's orders driven with a progress bar on stderr: orders done, by outcome, and in flight.
import { SingleBar } from 'cli-progress';
import { type DriveControl, type OrderOutcome, driveOrders } from './drive';
import type { PlannedOrder } from './plan';
import type { DemoStack } from './stack';

/** Drives `orders` on the demo stack (see driveOrders), showing progress; each order's outcome and how long it all took. */
export async function driveWithProgress(
  stack: DemoStack,
  orders: PlannedOrder[],
  opts: { concurrency: number; orderDeadlineMs: number; control: DriveControl },
): Promise<{ outcomes: Map<number, OrderOutcome>; durationMs: number }> {
  const tally = { COMPLETED: 0, COMPENSATED: 0, COMPENSATION_STUCK: 0, NOT_FINISHED: 0 } satisfies Record<OrderOutcome['kind'], number>;
  let inFlight = 0;
  const bar = new SingleBar({
    stream: process.stderr,
    format: ' orders |{bar}| {value}/{total} | completed {completed} · compensated {compensated} · stuck {stuck} · in flight {inFlight} | {duration_formatted}',
    barsize: 30,
    hideCursor: true,
    etaBuffer: 50,
  });
  const payload = (): Record<string, number> => ({
    completed: tally.COMPLETED,
    compensated: tally.COMPENSATED,
    stuck: tally.COMPENSATION_STUCK,
    inFlight,
  });
  const startedAt = Date.now();
  bar.start(orders.length, 0, payload());
  try {
    const outcomes = await driveOrders({
      client: stack.temporal.eagerClient,
      eagerStart: true,
      pool: stack.db.pool,
      taskQueue: stack.taskQueue,
      orders,
      ...opts,
      onStarted: () => {
        inFlight += 1;
        bar.update(payload());
      },
      onOutcome: (_order, outcome) => {
        tally[outcome.kind] += 1;
        if (outcome.kind !== 'NOT_FINISHED' || !outcome.why.startsWith('could not start')) inFlight -= 1;
        bar.increment(1, payload());
      },
    });
    return { outcomes, durationMs: Date.now() - startedAt };
  } finally {
    bar.stop();
  }
}
