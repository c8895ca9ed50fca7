// Starts the planned orders, at most `concurrency` at a time, and waits for each saga's outcome.
// A saga parked in COMPENSATION_STUCK never returns on its own (it waits for an operator), so the
// orders table is watched for it; an order still open at its deadline is reported as not finished.
import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import type { Pool } from 'pg';
import { ORDER_SAGA_SHAPE, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import type { placeOrder } from '../../apps/orders/workflows/place-order';
import { STARTS_RUNNING } from '../../apps/worker/search-attributes';
import type { PlannedOrder } from './plan';

export const DEMO_TENANT = 'demo';

export type OrderOutcome =
  | { kind: 'COMPLETED'; totalCents: number | undefined }
  | { kind: 'COMPENSATED'; reason: string; reasonType: string }
  | { kind: 'COMPENSATION_STUCK' }
  | { kind: 'NOT_FINISHED'; why: string };

export type DriveControl = {
  /** True once no further order may be started (first Ctrl-C). */
  stopStarting(): boolean;
  /** Aborted to stop waiting for the orders in flight (second Ctrl-C). */
  abandon: AbortSignal;
};

/** The failure type at the head of a saga's reason, e.g. `OUT_OF_STOCK: SKU-5: …` → OUT_OF_STOCK. */
export function reasonType(reason: string): string {
  return /^([A-Za-z][A-Za-z0-9_]*):/.exec(reason)?.[1] ?? (reason || 'UNKNOWN');
}

/** Watches the orders table for sagas that parked in COMPENSATION_STUCK (their workflow keeps waiting). */
class StuckWatch {
  readonly #waiting = new Map<string, () => void>();
  readonly #timer: NodeJS.Timeout;
  #polling = false;

  constructor(
    private readonly pool: Pool,
    intervalMs: number,
  ) {
    this.#timer = setInterval(() => void this.#poll(), intervalMs);
    this.#timer.unref();
  }

  /** Resolves when the order is marked COMPENSATION_STUCK; `forget` stops watching it. */
  watch(orderId: string): { stuck: Promise<void>; forget: () => void } {
    const stuck = new Promise<void>((resolve) => this.#waiting.set(orderId, resolve));
    return { stuck, forget: () => this.#waiting.delete(orderId) };
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#waiting.size === 0) return;
    this.#polling = true;
    try {
      const { rows } = await this.pool.query<{ id: string }>(`SELECT id FROM orders WHERE status = 'COMPENSATION_STUCK' AND id = ANY($1::text[])`, [
        [...this.#waiting.keys()],
      ]);
      for (const { id } of rows) {
        this.#waiting.get(id)?.();
        this.#waiting.delete(id);
      }
    } catch {
      // a missed poll is retried at the next tick
    } finally {
      this.#polling = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export async function driveOrders(opts: {
  client: Client;
  pool: Pool;
  taskQueue: string;
  orders: readonly PlannedOrder[];
  concurrency: number;
  /** How long one order may take before it is reported as not finished. */
  orderDeadlineMs: number;
  control: DriveControl;
  /** `client` shares its NativeConnection with a worker of `taskQueue` in this process: start on it eagerly. */
  eagerStart?: boolean;
  onStarted?: (order: PlannedOrder) => void;
  onOutcome: (order: PlannedOrder, outcome: OrderOutcome) => void;
}): Promise<Map<number, OrderOutcome>> {
  const outcomes = new Map<number, OrderOutcome>();
  const watch = new StuckWatch(opts.pool, 1000);
  const abandoned = new Promise<void>((resolve) => {
    if (opts.control.abandon.aborted) resolve();
    else opts.control.abandon.addEventListener('abort', () => resolve(), { once: true });
  });

  const runOne = async (order: PlannedOrder): Promise<OrderOutcome> => {
    let handle;
    try {
      handle = await opts.client.workflow.start<typeof placeOrder>('placeOrder', {
        taskQueue: opts.taskQueue,
        workflowId: order.workflowId,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        ...STARTS_RUNNING,
        ...(opts.eagerStart && { requestEagerStart: true }),
        args: [
          {
            orderId: order.orderId,
            tenantId: DEMO_TENANT,
            items: order.items,
            currency: 'EUR',
            paymentToken: order.paymentToken,
            shape: ORDER_SAGA_SHAPE,
            ...(order.failBeforePivot !== undefined && { options: { failBeforePivot: order.failBeforePivot } }),
          },
        ],
      });
    } catch (err) {
      return { kind: 'NOT_FINISHED', why: `could not start: ${err instanceof Error ? err.message : String(err)}` };
    }
    opts.onStarted?.(order);
    const { stuck, forget } = watch.watch(order.orderId);
    // Cancels the result's long poll once the race is decided: a poll left behind (stuck, deadline,
    // interrupt) would otherwise be retried by the client after its connection is closed.
    const stopPolling = new AbortController();
    let deadline: NodeJS.Timeout | undefined;
    try {
      return await Promise.race<OrderOutcome>([
        opts.client
          .withAbortSignal(stopPolling.signal, () => handle.result())
          .then(
            (r: PlaceOrderResult): OrderOutcome =>
              r.status === 'COMPLETED'
                ? { kind: 'COMPLETED', totalCents: r.totalCents }
                : { kind: 'COMPENSATED', reason: r.reason ?? '', reasonType: reasonType(r.reason ?? '') },
            (err: unknown): OrderOutcome => ({ kind: 'NOT_FINISHED', why: `workflow failed: ${err instanceof Error ? err.message : String(err)}` }),
          ),
        stuck.then((): OrderOutcome => ({ kind: 'COMPENSATION_STUCK' })),
        new Promise<OrderOutcome>((resolve) => {
          deadline = setTimeout(() => resolve({ kind: 'NOT_FINISHED', why: `still running after ${opts.orderDeadlineMs} ms` }), opts.orderDeadlineMs);
          deadline.unref();
        }),
        abandoned.then((): OrderOutcome => ({ kind: 'NOT_FINISHED', why: 'interrupted' })),
      ]);
    } finally {
      forget();
      clearTimeout(deadline);
      stopPolling.abort();
    }
  };

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < opts.orders.length && !opts.control.stopStarting() && !opts.control.abandon.aborted) {
      const order = opts.orders[next++] as PlannedOrder;
      const outcome = await runOne(order);
      outcomes.set(order.n, outcome);
      opts.onOutcome(order, outcome);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.orders.length) }, lane));
  } finally {
    watch.stop();
  }
  return outcomes;
}
