// The demo's orders, drawn up front from the seed: items, payment tokens (magic tokens for the
// targeted faults), the random gateway faults, and the stock of the scarce products.
import { SEED_PRODUCTS } from '../../apps/orders/domain/catalog';
import type { OrderItem } from '../../apps/orders/domain/types';
import type { FaultConfigInput } from '../../apps/gateway/faults';
import { mulberry32 } from '../random';

/** Faults aimed at one order each, through the gateway's magic tokens or the saga's demonstration fault. */
export const TARGETED_FAULTS = {
  decline: { token: 'tok_decline', what: 'card declined' },
  'transient-5xx': { token: 'tok_fail_5xx_2', what: 'gateway 503 twice, then charges' },
  'apply-then-timeout': { token: 'tok_apply_timeout_1', what: 'charge applied, answer held past the client timeout' },
  'apply-then-drop': { token: 'tok_apply_drop_1', what: 'charge applied, connection dropped' },
  'gateway-down': { token: 'tok_fail_5xx_100', what: 'gateway 503 on every attempt: reconciled by key, nothing charged' },
  'fail-after-charge': { token: 'tok_visa', what: 'a step after the charge fails: the charge is refunded' },
} as const;

export type TargetedFault = keyof typeof TARGETED_FAULTS;
const FAULT_ORDER = Object.keys(TARGETED_FAULTS) as TargetedFault[];

export type PlannedOrder = {
  n: number;
  orderId: string;
  workflowId: string;
  items: OrderItem[];
  paymentToken: string;
  fault: TargetedFault | undefined;
  failBeforePivot: string | undefined;
};

export type DemoPlan = {
  orders: PlannedOrder[];
  /** Stock for every product this run: plenty, except the scarce ones. */
  stock: Record<string, number>;
  scarce: Array<{ sku: string; demand: number; stock: number }>;
  gatewayFaults: FaultConfigInput;
};

/** Products most orders can always get. */
export const AMPLE_STOCK = 10_000;
/** These two run short in proportion to the fault rate, so some orders end OUT_OF_STOCK. */
export const SCARCE_SKUS = ['SKU-2', 'SKU-5'] as const;
/** The gateway holds an "apply then time out" answer this long; the worker's client gives up sooner. */
export const GATEWAY_HANG_MS = 5000;
export const GATEWAY_CLIENT_TIMEOUT_MS = 2000;

export function planDemo(opts: { runId: string; orders: number; faultRate: number; seed: number }): DemoPlan {
  const random = mulberry32(opts.seed ^ 0x5eed5a9a);

  // round(orders × rate) orders get a targeted fault, the kinds in turn (so each appears once there
  // are at least as many faulty orders as kinds), at positions shuffled by the seed.
  const faulty = Math.round(opts.orders * opts.faultRate);
  const positions = random.shuffle(Array.from({ length: opts.orders }, (_, i) => i));
  const faultAt = new Map<number, TargetedFault>();
  for (let i = 0; i < faulty; i++) faultAt.set(positions[i] as number, FAULT_ORDER[i % FAULT_ORDER.length] as TargetedFault);

  const orders: PlannedOrder[] = [];
  for (let i = 0; i < opts.orders; i++) {
    const n = i + 1;
    const count = random.int(1, 3);
    const skus = random.shuffle(SEED_PRODUCTS.map((p) => p.sku)).slice(0, count);
    const items = skus.map((sku) => ({ sku, quantity: random.int(1, 3) }));
    const fault = faultAt.get(i);
    const orderId = `${opts.runId}-${n}`;
    orders.push({
      n,
      orderId,
      workflowId: `order-${orderId}`,
      items,
      paymentToken: fault ? TARGETED_FAULTS[fault].token : 'tok_visa',
      fault,
      failBeforePivot: fault === 'fail-after-charge' ? 'the shipping quote failed after the payment (injected)' : undefined,
    });
  }

  // Each scarce product is short by half the fault rate of this run's demand for it.
  const stock: Record<string, number> = Object.fromEntries(SEED_PRODUCTS.map((p) => [p.sku, AMPLE_STOCK]));
  const scarce = SCARCE_SKUS.map((sku) => {
    const demand = orders.reduce((sum, o) => sum + (o.items.find((i) => i.sku === sku)?.quantity ?? 0), 0);
    const short = opts.faultRate > 0 ? Math.ceil((demand * opts.faultRate) / 2) : 0;
    stock[sku] = Math.max(0, demand - short);
    return { sku, demand, stock: Math.max(0, demand - short) };
  });

  // Random faults on ordinary tokens: each kind at a quarter of the fault rate.
  const each = Math.round((opts.faultRate / 4) * 10_000) / 10_000;
  const gatewayFaults: FaultConfigInput = {
    seed: opts.seed,
    serverErrorRate: each,
    applyThenTimeoutRate: each,
    applyThenDropRate: each,
    declineRate: each,
    hangMs: GATEWAY_HANG_MS,
  };
  return { orders, stock, scarce, gatewayFaults };
}
