// Orders over HTTP the way real clients send them under failure: each order's request goes one to three
// times with the same Idempotency-Key (the copies sometimes at once, sometimes one after the other),
// and every copy is retried until the API accepts it: after 409 (honouring Retry-After), 5xx, a timeout
// or a refused connection. Every copy must get the same answer.
import type { OrderItem } from '../../apps/orders/domain/types';
import { createOrdersApiClient, type OrdersApiClient } from '../api-client';
import type { Random } from '../random';

export type OrderRequestPlan = {
  n: number;
  idempotencyKey: string;
  body: { items: OrderItem[]; paymentToken: string };
  copies: 1 | 2 | 3;
  /** The copies go at once; otherwise each after the previous one was answered. */
  concurrent: boolean;
};

export type OrderTraffic = {
  n: number;
  /** From the accepted answer; undefined when no copy was accepted. */
  orderId: string | undefined;
  /** HTTP requests sent for this order, retries included. */
  requests: number;
  /** Copies that were answered 202 with a byte-identical body to the first. */
  identicalAnswers: number;
  /** Why a copy was not accepted, or answered differently. */
  problems: string[];
};

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_RETRY_AFTER_MS = 5000;

export function planRequests(
  orders: ReadonlyArray<{ n: number; items: OrderItem[]; paymentToken: string }>,
  runId: string,
  random: Random,
): OrderRequestPlan[] {
  return orders.map((o) => {
    const copies = random.int(1, 3) as 1 | 2 | 3;
    return {
      n: o.n,
      idempotencyKey: `chaos-${runId}-${o.n}`,
      body: { items: o.items, paymentToken: o.paymentToken },
      copies,
      concurrent: copies > 1 && random.next() < 0.5,
    };
  });
}

type CopyResult = { status: number; body: string; requests: number } | { status: 'gave up'; why: string; requests: number };

/** Sends one copy until it is accepted (202), refused for good (another 4xx), or `deadline` passes. */
async function sendUntilAccepted(api: OrdersApiClient, plan: OrderRequestPlan, deadline: number, stopped: AbortSignal): Promise<CopyResult> {
  let requests = 0;
  let backoffMs = 200;
  let last = '';
  while (Date.now() < deadline && !stopped.aborted) {
    requests += 1;
    let waitMs = backoffMs;
    try {
      // The answer's exact bytes: every copy's body is compared with the first one's.
      const { response, data, error } = await api.POST('/v1/orders', {
        params: { header: { 'idempotency-key': plan.idempotencyKey } },
        body: plan.body,
        parseAs: 'text',
        signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), stopped]),
      });
      const text: unknown = data ?? error; // parseAs 'text': the body's exact text either way
      const body = typeof text === 'string' ? text : '';
      if (response.status === 202) return { status: 202, body, requests };
      last = `${response.status} ${body.slice(0, 200)}`;
      if (response.status === 409) {
        waitMs = Math.min(MAX_RETRY_AFTER_MS, 1000 * Math.max(1, Number(response.headers.get('retry-after') ?? 1)));
      } else if (response.status < 500) {
        return { status: response.status, body, requests };
      }
    } catch (err) {
      last = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    await new Promise((r) => setTimeout(r, waitMs));
    backoffMs = Math.min(2000, backoffMs * 2);
  }
  return { status: 'gave up', why: `not accepted before the deadline (last: ${last || 'none'})`, requests };
}

/** Sends every copy of one order's request and compares the answers. */
export async function placeOrder(opts: {
  apiUrl: string;
  apiKey: string;
  plan: OrderRequestPlan;
  deadline: number;
  stopped: AbortSignal;
}): Promise<OrderTraffic> {
  const { plan } = opts;
  const api = createOrdersApiClient({ baseUrl: opts.apiUrl, apiKey: opts.apiKey });
  const send = (): Promise<CopyResult> => sendUntilAccepted(api, plan, opts.deadline, opts.stopped);
  const results: CopyResult[] = [];
  if (plan.concurrent) {
    results.push(...(await Promise.all(Array.from({ length: plan.copies }, send))));
  } else {
    for (let i = 0; i < plan.copies; i++) results.push(await send());
  }
  const problems: string[] = [];
  let firstBody: string | undefined;
  let identicalAnswers = 0;
  for (const r of results) {
    if (r.status !== 202) {
      problems.push(r.status === 'gave up' ? r.why : `answered ${r.status}: ${r.body.slice(0, 200)}`);
      continue;
    }
    firstBody ??= r.body;
    if (r.body === firstBody) identicalAnswers += 1;
    else problems.push(`a copy was answered differently: ${r.body.slice(0, 200)} vs ${firstBody.slice(0, 200)}`);
  }
  let orderId: string | undefined;
  if (firstBody !== undefined) {
    const parsed = JSON.parse(firstBody) as { orderId?: unknown };
    if (typeof parsed.orderId === 'string') orderId = parsed.orderId;
    else problems.push(`the 202 body has no orderId: ${firstBody.slice(0, 200)}`);
  }
  return { n: plan.n, orderId, requests: results.reduce((sum, r) => sum + r.requests, 0), identicalAnswers, problems };
}
