// The end of a run: this run's outcomes and the gateway's view of it, every invariant of DESIGN §6
// (checkInvariants over the whole database, plus checks of this run's own workflows), and the JSON line.
import type { Pool } from 'pg';
import { type InvariantReport, checkInvariants } from '../../apps/orders/domain/invariants';
import { type EventWitness, settleEvents } from '../../apps/shipping/checks';
import type { ShippingCounts } from '../../apps/shipping/consumer';
import type { InjectedFaultCounts } from './counting-faults';
import type { GatewayStats } from '../../apps/gateway/stats';
import type { OrderOutcome } from './drive';
import type { DemoOptions } from './options';
import type { PlannedOrder } from './plan';

/** The gateway's counts for one run's orders (GatewayStats is the whole gateway's). */
export type GatewayRunStats = Pick<GatewayStats, 'refunds' | 'tombstones'> & {
  chargeAttempts: number;
  charges: GatewayStats['chargesByStatus'];
  injected: InjectedFaultCounts;
};

export type InvariantLine = { label: string; held: boolean; detail?: string };

export type DemoSummary = {
  runId: string;
  options: DemoOptions;
  started: number;
  completed: number;
  compensated: number;
  compensatedBy: Record<string, number>;
  stuck: number;
  /** Workflow IDs of this run's sagas parked in COMPENSATION_STUCK. */
  stuckWorkflowIds: string[];
  nonTerminal: number;
  notStarted: number;
  gateway: GatewayRunStats;
  /** This run's order events: published by the relay, applied by the shipping consumer (whose counts are the whole process's). */
  events: EventWitness & { consumer: ShippingCounts };
  database: InvariantReport;
  invariants: InvariantLine[];
  invariantsHeld: boolean;
  durationMs: number;
  temporalUi: string | undefined;
  runWorkflowsUrl: string | undefined;
  interrupted: boolean;
};

/**
 * DESIGN §6, one line each, with the text checkInvariants uses for its violations. A violation that
 * matches none of these (a check added later) still shows, as a line of its own.
 */
/**
 * One line per invariant of DESIGN §6 from checkInvariants' report, in its order; an invariant a
 * database constraint already guarantees says so (its check is a second witness).
 */
export function databaseInvariantLines(database: InvariantReport, constraintsOff: ReadonlySet<string> = new Set()): InvariantLine[] {
  const guarantee = (c: InvariantReport['checks'][number]): string => {
    if (!c.guaranteedBy) return '';
    return constraintsOff.has(c.id) ? ` (${c.guaranteedBy} is off in this run: the check alone)` : ` (also guaranteed by ${c.guaranteedBy})`;
  };
  return database.checks.map((c) => ({
    label: `${c.name}${guarantee(c)}`,
    held: c.count === 0,
    ...(c.count > 0 && { detail: `${c.count}: ${c.examples.join(', ')}${c.count > c.examples.length ? ', …' : ''}` }),
  }));
}

async function gatewayRunStats(pool: Pool, runId: string, injected: InjectedFaultCounts): Promise<GatewayRunStats> {
  const orderLike = `${runId}-%`;
  const keyLike = `order-${runId}-%`;
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT
       (SELECT coalesce(sum(attempts), 0) FROM gateway_key_attempts WHERE idempotency_key LIKE $2) AS attempts,
       (SELECT count(*) FROM gateway_charges WHERE order_id LIKE $1 AND status = 'succeeded') AS succeeded,
       (SELECT count(*) FROM gateway_charges WHERE order_id LIKE $1 AND status = 'declined') AS declined,
       (SELECT count(*) FROM gateway_charges WHERE order_id LIKE $1 AND status = 'pending') AS pending,
       (SELECT count(*) FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id LIKE $1) AS refunds,
       (SELECT count(*) FROM gateway_key_tombstones WHERE idempotency_key LIKE $2) AS tombstones`,
    [orderLike, keyLike],
  );
  const n = (name: string): number => Number(rows[0]?.[name] ?? 0);
  return {
    chargeAttempts: n('attempts'),
    charges: { succeeded: n('succeeded'), declined: n('declined'), pending: n('pending') },
    refunds: n('refunds'),
    tombstones: n('tombstones'),
    injected: { ...injected },
  };
}

/**
 * PENDING orders of other runs. With an in-memory dev server, a run stopped half-way loses its
 * sagas while the (persistent) database keeps their orders: they stay PENDING for good, and the
 * invariant rightly fails until the demo starts from an empty database.
 */
async function earlierPending(pool: Pool, runId: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM orders WHERE status = 'PENDING' AND id NOT LIKE $1 ORDER BY created_at LIMIT 3`, [
    `${runId}-%`,
  ]);
  if (rows.length === 0) return undefined;
  return (
    `PENDING orders from earlier runs (${rows.map((r) => r.id).join(', ')}${rows.length === 3 ? ', …' : ''}): ` +
    'a run stopped half-way lost their sagas with its dev server. Start from an empty database ' +
    '(delete .data/postgres, or set DATABASE_URL to a fresh one)'
  );
}

/** This run's workflow results against its rows in the orders table. */
async function disagreements(pool: Pool, runId: string, orders: readonly PlannedOrder[], outcomes: Map<number, OrderOutcome>): Promise<string[]> {
  const { rows } = await pool.query<{ id: string; status: string; failure_reason: string | null }>(
    'SELECT id, status, failure_reason FROM orders WHERE id LIKE $1',
    [`${runId}-%`],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const wrong: string[] = [];
  for (const order of orders) {
    const outcome = outcomes.get(order.n);
    if (!outcome || outcome.kind === 'NOT_FINISHED') continue;
    const row = byId.get(order.orderId);
    if (!row) {
      wrong.push(`${order.orderId}: ${outcome.kind} but no order row`);
    } else if (row.status !== outcome.kind) {
      wrong.push(`${order.orderId}: workflow says ${outcome.kind}, the table ${row.status}`);
    } else if (outcome.kind === 'COMPENSATED' && row.failure_reason !== outcome.reason) {
      wrong.push(`${order.orderId}: reason ${JSON.stringify(outcome.reason)} recorded as ${JSON.stringify(row.failure_reason)}`);
    }
  }
  return wrong;
}

export async function summarise(opts: {
  pool: Pool;
  runId: string;
  options: DemoOptions;
  orders: readonly PlannedOrder[];
  outcomes: Map<number, OrderOutcome>;
  injected: InjectedFaultCounts;
  durationMs: number;
  temporalUi: string | undefined;
  runWorkflowsUrl: string | undefined;
  interrupted: boolean;
  /** The shipping consumer's counts, read once this run's events have settled. */
  consumerCounts: () => ShippingCounts;
  /** How long to wait for this run's events to be published and applied. Default 30 s; none when interrupted. */
  eventsTimeoutMs?: number;
}): Promise<DemoSummary> {
  const all = [...opts.outcomes.values()];
  const count = (kind: OrderOutcome['kind']): number => all.filter((o) => o.kind === kind).length;
  const compensatedBy: Record<string, number> = {};
  for (const o of all) if (o.kind === 'COMPENSATED') compensatedBy[o.reasonType] = (compensatedBy[o.reasonType] ?? 0) + 1;

  const witness = await settleEvents(opts.pool, `${opts.runId}-%`, opts.interrupted ? 0 : (opts.eventsTimeoutMs ?? 30_000));
  const events = { ...witness, consumer: opts.consumerCounts() };
  const database = await checkInvariants(opts.pool);
  const gateway = await gatewayRunStats(opts.pool, opts.runId, opts.injected);
  const wrong = await disagreements(opts.pool, opts.runId, opts.orders, opts.outcomes);
  const nonTerminal = count('NOT_FINISHED');

  const invariants = databaseInvariantLines(database);
  const leftovers = database.nonTerminal > 0 ? await earlierPending(opts.pool, opts.runId) : undefined;
  if (leftovers) {
    const terminal = invariants[0];
    if (terminal) terminal.detail = `${terminal.detail ?? ''}; ${leftovers}`.replace(/^; /, '');
  }
  const unfinished = [...opts.outcomes].flatMap(([n, o]) => (o.kind === 'NOT_FINISHED' ? [`#${n}: ${o.why}`] : []));
  invariants.push({
    label: "every order of this run reached a terminal state (its saga's result, or COMPENSATION_STUCK)",
    held: nonTerminal === 0,
    ...(nonTerminal > 0 && { detail: `${nonTerminal} not finished: ${unfinished.slice(0, 3).join('; ')}${unfinished.length > 3 ? ' …' : ''}` }),
  });
  invariants.push({
    label: 'every terminal order of this run had its event published and applied once by shipping (outbox → NATS → inbox)',
    held: events.eventsMissing === 0 && events.eventsUnpublished === 0 && events.eventsAppliedTwice === 0 && events.eventsMismatched === 0,
    ...((events.eventsMissing > 0 || events.eventsUnpublished > 0 || events.eventsAppliedTwice > 0 || events.eventsMismatched > 0) && {
      detail: `${events.eventsMissing} missing, ${events.eventsUnpublished} unpublished, ${events.eventsAppliedTwice} applied twice, ${events.eventsMismatched} mismatched`,
    }),
  });
  invariants.push({
    label: "this run's workflow results agree with the orders table",
    held: wrong.length === 0,
    ...(wrong.length > 0 && { detail: `${wrong.slice(0, 3).join('; ')}${wrong.length > 3 ? ` and ${wrong.length - 3} more` : ''}` }),
  });

  return {
    runId: opts.runId,
    options: opts.options,
    started: all.length,
    completed: count('COMPLETED'),
    compensated: count('COMPENSATED'),
    compensatedBy,
    stuck: count('COMPENSATION_STUCK'),
    stuckWorkflowIds: opts.orders.filter((o) => opts.outcomes.get(o.n)?.kind === 'COMPENSATION_STUCK').map((o) => o.workflowId),
    nonTerminal,
    notStarted: opts.orders.length - all.length,
    gateway,
    events,
    database,
    invariants,
    invariantsHeld: invariants.every((i) => i.held),
    durationMs: opts.durationMs,
    temporalUi: opts.temporalUi,
    runWorkflowsUrl: opts.runWorkflowsUrl,
    interrupted: opts.interrupted,
  };
}

const pad = (s: string | number, width: number): string => String(s).padEnd(width);
const num = (s: number, width: number): string => String(s).padStart(width);

/** The human part of the summary, as lines (the JSON line comes after). */
export function formatSummary(s: DemoSummary): string[] {
  const o = s.options;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `Run ${s.runId}: ${o.orders} orders, fault rate ${o.faultRate}, seed ${o.seed}, concurrency ${o.concurrency}, ` +
      `${(s.durationMs / 1000).toFixed(1)} s${s.interrupted ? ' (interrupted)' : ''}`,
  );
  lines.push('');
  const W = 44;
  lines.push(`  ${pad('outcome', W)} ${'orders'.padStart(6)}`);
  lines.push(`  ${pad('COMPLETED', W)} ${num(s.completed, 6)}`);
  lines.push(`  ${pad('COMPENSATED', W)} ${num(s.compensated, 6)}`);
  for (const [type, n] of Object.entries(s.compensatedBy).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    lines.push(`    ${pad(type, W - 2)} ${num(n, 6)}`);
  }
  lines.push(`  ${pad('COMPENSATION_STUCK (awaiting an operator)', W)} ${num(s.stuck, 6)}`);
  lines.push(`  ${pad('not finished', W)} ${num(s.nonTerminal, 6)}`);
  if (s.notStarted > 0) lines.push(`  ${pad('not started (interrupted)', W)} ${num(s.notStarted, 6)}`);
  lines.push('');
  const g = s.gateway;
  const i = g.injected;
  lines.push('  payment gateway, this run');
  lines.push(`    ${pad('charge requests (all attempts)', W - 2)} ${num(i.chargeRequests, 6)}`);
  lines.push(`    ${pad('  503 before anything was applied', W - 2)} ${num(i.serverErrors, 6)}`);
  lines.push(`    ${pad('  applied, answer held past the timeout', W - 2)} ${num(i.heldAnswers, 6)}`);
  lines.push(`    ${pad('  applied, connection dropped', W - 2)} ${num(i.droppedConnections, 6)}`);
  lines.push(`    ${pad('charges succeeded / declined', W - 2)} ${num(g.charges.succeeded, 6)} / ${g.charges.declined}`);
  lines.push(`    ${pad('refunds', W - 2)} ${num(g.refunds, 6)}`);
  lines.push(`    ${pad('  refund requests answered 503', W - 2)} ${num(i.refundServerErrors, 6)} of ${i.refundRequests}`);
  lines.push(`    ${pad('keys tombstoned by a refund-by-key', W - 2)} ${num(g.tombstones, 6)}`);
  lines.push('');
  const e = s.events;
  lines.push('  events, this run (outbox → NATS JetStream → shipping inbox)');
  lines.push(`    ${pad('published (broker acknowledged)', W - 2)} ${num(e.eventsPublished, 6)}`);
  lines.push(`    ${pad('applied by shipping', W - 2)} ${num(e.eventsApplied, 6)}`);
  lines.push(`    ${pad('  duplicates dropped by the inbox', W - 2)} ${num(e.consumer.duplicates, 6)}`);
  lines.push(`    ${pad('  dead-lettered', W - 2)} ${num(e.consumer.deadLettered, 6)}`);
  lines.push('');
  const d = s.database;
  lines.push(
    `  invariants (DESIGN §6) over the whole database: ${d.orders} orders (${d.completed} completed, ` +
      `${d.compensated} compensated, ${d.stuck} stuck, ${d.nonTerminal} pending), and this run's workflows`,
  );
  for (const inv of s.invariants) {
    lines.push(`    ${inv.held ? '✓' : '✗'} ${inv.label}`);
    if (inv.detail) lines.push(`        ${inv.detail}`);
  }
  if (s.stuck > 0) {
    const ids = s.stuckWorkflowIds;
    lines.push(
      `  ${s.stuck} saga(s) wait in COMPENSATION_STUCK for an operator (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}): ` +
        "send the 'resolveCompensation' update ({ action: 'retry' } or { action: 'skip', reason }).",
    );
  }
  lines.push('');
  if (s.temporalUi) {
    lines.push(`  Temporal UI: ${s.temporalUi}`);
    if (s.runWorkflowsUrl) lines.push(`  this run's workflows: ${s.runWorkflowsUrl}`);
  } else {
    lines.push('  Temporal UI: not known for this server (set TEMPORAL_UI_PORT to have it printed)');
  }
  lines.push(s.invariantsHeld ? '  every invariant holds' : '  SOME INVARIANTS DO NOT HOLD');
  return lines;
}

/** The last line of the output. */
export function summaryJson(s: DemoSummary): Record<string, unknown> {
  return {
    orders: s.options.orders,
    completed: s.completed,
    compensated: s.compensated,
    stuck: s.stuck,
    nonTerminal: s.nonTerminal,
    notStarted: s.notStarted,
    compensatedBy: s.compensatedBy,
    doubleCharges: s.database.doubleCharges,
    doubleReservations: s.database.doubleReservations,
    events: {
      published: s.events.eventsPublished,
      applied: s.events.eventsApplied,
      missing: s.events.eventsMissing,
      appliedTwice: s.events.eventsAppliedTwice,
      duplicatesDropped: s.events.consumer.duplicates,
      deadLettered: s.events.consumer.deadLettered,
    },
    invariantsHeld: s.invariantsHeld,
    violations: s.invariants.filter((i) => !i.held).map((i) => (i.detail ? `${i.label}: ${i.detail}` : i.label)),
    gateway: {
      chargeRequests: s.gateway.injected.chargeRequests,
      serverErrors: s.gateway.injected.serverErrors,
      heldAnswers: s.gateway.injected.heldAnswers,
      droppedConnections: s.gateway.injected.droppedConnections,
      charges: s.gateway.charges.succeeded + s.gateway.charges.declined + s.gateway.charges.pending,
      refunds: s.gateway.refunds,
      tombstones: s.gateway.tombstones,
    },
    runId: s.runId,
    seed: s.options.seed,
    faultRate: s.options.faultRate,
    concurrency: s.options.concurrency,
    durationMs: s.durationMs,
    temporalUi: s.temporalUi ?? null,
    interrupted: s.interrupted,
  };
}
