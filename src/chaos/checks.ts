// After the drain: every invariant of DESIGN §6 from our tables and the gateway's (checkInvariants over the
// run's own database), plus what only a chaos run can show: each order's copies got one answer, each
// accepted order is one order row and one workflow, and no saga is left running except those awaiting an operator.
import { Client, Connection } from '@temporalio/client';
import type { PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { type InvariantReport, checkInvariants } from '../../apps/orders/domain/invariants';
import type { EventWitness } from '../../apps/shipping/checks';
import { type InvariantLine, databaseInvariantLines } from '../demo/report';
import type { ChaosStack } from './stack';
import type { OrderTraffic } from './traffic';

export type CheckLine = InvariantLine;

export type ChaosChecks = {
  database: InvariantReport;
  accepted: number;
  /** Accepted orders whose row is missing or not terminal. */
  nonTerminal: number;
  workflows: number | undefined;
  /** Sagas parked for an operator, with the reason their order row records. */
  stuckOrders: Array<{ id: string; reason: string }>;
  lines: CheckLine[];
  /** With events: what the outbox, the broker and the shipping inbox show. */
  events: (EventWitness & { inStream: number }) | undefined;
  invariantsHeld: boolean;
};

/** Results fetched at once when cross-checking closed workflows against their order rows. */
const RESULT_CONCURRENCY = 16;

export async function checkChaosRun(opts: {
  stack: ChaosStack;
  traffic: OrderTraffic[];
  orders: number;
  orderIds: string[];
  /** Records cleanup deleted while their saga was open (the database witness). */
  liveRecordsDeleted: number;
  /** Which constraints this run dropped, so the report does not claim them. */
  naturalKeysOff?: boolean;
  gatewayKeyOff?: boolean;
  liveExamples: string[];
  /** With events: the witness once they settled. */
  events?: (EventWitness & { inStream: number }) | undefined;
}): Promise<ChaosChecks> {
  const { stack, traffic, orderIds } = opts;
  const database = await checkInvariants(stack.pool);
  const constraintsOff = new Set([
    ...(opts.naturalKeysOff ? ['reservation-unique', 'payment-unique', 'order-saga-unique'] : []),
    ...(opts.gatewayKeyOff ? ['gateway-key-unique'] : []),
  ]);
  const lines: CheckLine[] = databaseInvariantLines(database, constraintsOff);
  const line = (label: string, held: boolean, detail?: string): void => void lines.push({ label, held, ...(detail !== undefined && !held && { detail }) });

  const notAccepted = traffic.filter((t) => !t.orderId);
  line(
    'every order was accepted (202) by the API',
    notAccepted.length === 0 && traffic.length === opts.orders,
    `${opts.orders - traffic.length + notAccepted.length} not accepted, e.g. #${notAccepted[0]?.n}: ${notAccepted[0]?.problems[0] ?? 'not sent'}`,
  );
  const answeredDifferently = traffic.filter((t) => t.orderId && t.problems.length > 0);
  line(
    'every copy of a request got the same answer, byte for byte',
    answeredDifferently.length === 0,
    answeredDifferently
      .slice(0, 3)
      .map((t) => `#${t.n}: ${t.problems[0]}`)
      .join('; '),
  );
  line(
    'distinct idempotency keys gave distinct orders',
    orderIds.length === traffic.filter((t) => t.orderId).length,
    `${orderIds.length} order IDs for ${traffic.filter((t) => t.orderId).length} keys`,
  );

  const { rows } = await stack.pool.query<{ id: string; status: string; reason: string | null }>('SELECT id, status, failure_reason AS reason FROM orders');
  const status = new Map(rows.map((r) => [r.id, r.status]));
  const nonTerminalIds = orderIds.filter((id) => !['COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK'].includes(status.get(id) ?? 'MISSING'));
  line(
    'every accepted order reached a terminal state',
    nonTerminalIds.length === 0,
    `${nonTerminalIds.length} did not, e.g. ${nonTerminalIds
      .slice(0, 3)
      .map((id) => `${id} (${status.get(id) ?? 'no row'})`)
      .join(', ')}`,
  );
  const known = new Set(orderIds);
  const strangers = rows.filter((r) => !known.has(r.id));
  line(
    'no order row exists beyond the accepted orders (no duplicate created an order)',
    strangers.length === 0,
    `${strangers.length} extra, e.g. ${strangers[0]?.id}`,
  );

  const temporal = await countWorkflows(stack);
  if (temporal.error !== undefined) {
    line('Temporal answers for its workflows', false, temporal.error);
  } else {
    line(
      'one workflow per accepted order on the run task queue',
      temporal.total === orderIds.length,
      `${temporal.total} workflows for ${orderIds.length} orders`,
    );
    line(
      'no saga still running except those awaiting an operator',
      temporal.running === database.stuck,
      `${temporal.running} running, ${database.stuck} COMPENSATION_STUCK`,
    );
  }
  const disagreements = await closedWorkflowsDisagreeing(stack, new Map(rows.map((r) => [r.id, r.status])));
  line(
    "every closed order workflow's result agrees with its order row",
    disagreements.error === undefined && disagreements.found.length === 0,
    disagreements.error ?? `${disagreements.found.length} disagree, e.g. ${disagreements.found.slice(0, 3).join('; ')}`,
  );
  line('cleanup deleted no record of an open saga', opts.liveRecordsDeleted === 0, `${opts.liveRecordsDeleted} deleted, e.g. ${opts.liveExamples.join(', ')}`);

  const ev = opts.events;
  if (ev) {
    line('every order event was published (the outbox holds none unpublished)', ev.eventsUnpublished === 0, `${ev.eventsUnpublished} unpublished`);
    line('every terminal order had its event applied by shipping (a shipment or a cancellation)', ev.eventsMissing === 0, `${ev.eventsMissing} missing`);
    line('no event was applied twice (the inbox; shipping_actions has no unique key)', ev.eventsAppliedTwice === 0, `${ev.eventsAppliedTwice} applied twice`);
    line("every shipping action matches its order's final status", ev.eventsMismatched === 0, `${ev.eventsMismatched} mismatched`);
  }
  return {
    database,
    accepted: orderIds.length,
    nonTerminal: nonTerminalIds.length,
    workflows: temporal.total,
    stuckOrders: rows.filter((r) => r.status === 'COMPENSATION_STUCK').map((r) => ({ id: r.id, reason: r.reason ?? '' })),
    lines,
    events: opts.events,
    invariantsHeld: lines.every((l) => l.held),
  };
}

/** Each completed order workflow's result against its order's row (a saga that ended before creating its row has none to disagree with). */
async function closedWorkflowsDisagreeing(stack: ChaosStack, statusById: Map<string, string>): Promise<{ found: string[]; error?: string }> {
  try {
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const client = new Client({ connection });
      const closed: string[] = [];
      for await (const wf of client.workflow.list({
        query: `TaskQueue = "${stack.taskQueue}" AND WorkflowType = "placeOrder" AND ExecutionStatus = "Completed"`,
      })) {
        closed.push(wf.workflowId);
      }
      const found: string[] = [];
      for (let i = 0; i < closed.length; i += RESULT_CONCURRENCY) {
        await Promise.all(
          closed.slice(i, i + RESULT_CONCURRENCY).map(async (workflowId) => {
            const result = (await client.workflow.getHandle(workflowId).result()) as PlaceOrderResult;
            const row = statusById.get(result.orderId);
            if (row === undefined ? result.status !== 'COMPENSATED' : row !== result.status) {
              found.push(`${workflowId}: workflow ${result.status}, order ${row ?? 'has no row'}`);
            }
          }),
        );
      }
      return { found };
    } finally {
      await connection.close();
    }
  } catch (err) {
    return { found: [], error: `cannot read the closed workflows: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export async function countWorkflows(stack: ChaosStack): Promise<{ total?: number; running?: number; error?: string }> {
  try {
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const client = new Client({ connection });
      const onQueue = `TaskQueue = "${stack.taskQueue}"`;
      const [total, running] = await Promise.all([client.workflow.count(onQueue), client.workflow.count(`${onQueue} AND ExecutionStatus = "Running"`)]);
      return { total: total.count, running: running.count };
    } finally {
      await connection.close();
    }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
