// One chaos run: start the stack, place the orders over HTTP while the faults run, stop the faults once
// the chaos phase is over (at least --duration, and every order accepted), drain, and check.
import { pruneWebhookEvents } from '../../apps/orders/api/webhook-events';
import type { Config } from '../config';
import { CleanupLoop, type CleanupTotals, IdempotencyStore } from 'idempotent-sagas/store';
import { planDemo } from '../demo/plan';
import { mulberry32 } from '../random';
import { eventTopology, streamMessageCount } from '../../apps/events/broker';
import { settleEvents } from '../../apps/shipping/checks';
import { type ChaosChecks, checkChaosRun, countWorkflows } from './checks';
import { Mayhem, type MayhemCounts } from './mayhem';
import { refundOutage, retryStuckSagas } from './operator';
import type { ChaosOptions } from './options';
import { deletionWitness, takeoverWitness } from './deletion-witness';
import { type ChaosStack, startChaosStack } from './stack';
import { type OrderTraffic, placeOrder, planRequests } from './traffic';

/** Share of orders given a targeted gateway fault (decline, 5xx, apply-then-timeout, …); random gateway faults at a quarter of it. */
const FAULT_RATE = 0.2;
/** How long one order's copies keep retrying before the order counts as not accepted. */
const ORDER_ACCEPT_DEADLINE_MS = 180_000;
const DRAIN_POLL_MS = 1000;
/** How often the harness, as the operator, retries sagas left stuck by the refund outage. */
const OPERATOR_SWEEP_MS = 2000;
/** Webhook events are kept this long when --ttl is not given (the services' default). */
const DEFAULT_WEBHOOK_RETENTION_S = 604_800;

/** Ctrl-C stopped the run before its drain: there is nothing meaningful to check. */
export class ChaosInterruptedError extends Error {
  override readonly name = 'ChaosInterruptedError';
}

export type ChaosProgress = {
  phase: 'chaos' | 'drain';
  orders: number;
  accepted: number;
  answered: number;
  terminal: number;
  requests: number;
  counts: MayhemCounts;
};

export type ChaosResult = {
  runId: string;
  options: ChaosOptions;
  database: string;
  runDir: string;
  requests: number;
  duplicateCopies: number;
  counts: MayhemCounts;
  checks: ChaosChecks;
  chaosPhaseMs: number;
  drainMs: number;
  /** What the harness's cleanup did, and the database witness of what it deleted. */
  cleanup: CleanupTotals & { witnessed: number; liveRecordsDeleted: number; liveExamples: string[] };
  /** Operator decisions (resolveCompensation retry) the harness sent and the sagas accepted. */
  operatorRetries: number;
  /** Times the refund outage had to be put on the gateway (more than once: it was restarted during it). */
  outageApplied: number;
  /** Forward step records completed at a later epoch than their first claim: interrupted work taken over (database witness). */
  takeovers: number;
  /** Charges the gateway applied (rows), and orders whose charge could not be confirmed after an ambiguous answer (compensated, refunded by key). */
  gatewayCharges: number;
  chargesUnconfirmed: number;
  /** Orders whose saga went to the operator (COMPENSATION_STUCK at least once; orders.first_stuck_at). */
  sentToOperator: number;
};

export async function runChaos(opts: {
  config: Config;
  options: ChaosOptions;
  runId: string;
  say: (line: string) => void;
  onProgress: (p: ChaosProgress) => void;
  /** Aborted on Ctrl-C: no more orders, no more faults; the run shuts down. */
  interrupted: AbortSignal;
}): Promise<ChaosResult> {
  const { options, runId, say } = opts;
  const random = mulberry32(options.seed ^ 0xc4a05);
  const plan = planDemo({ runId, orders: options.orders, faultRate: FAULT_RATE, seed: options.seed });
  // The API takes items and a token; the saga's demonstration fault after the charge is not reachable over HTTP.
  const requests = planRequests(plan.orders, runId, random);

  let mayhem: Mayhem | undefined;
  const stack: ChaosStack = await startChaosStack({
    config: opts.config,
    runId,
    workers: options.workers,
    stock: plan.stock,
    gatewayFaults: plan.gatewayFaults,
    stepTtlS: options.ttlS,
    shortStuckRounds: options.refundOutageS > 0,
    naturalKeys: options.naturalKeys,
    providerIgnoresKeys: options.providerIgnoresKeys,
    temporal: options.temporal,
    events: options.events,
    say,
    onUnexpectedExit: (child) => mayhem?.revive(child),
  });
  let keepData = true;
  const cleanup =
    options.cleanupEveryS > 0
      ? new CleanupLoop(new IdempotencyStore(stack.pool, { defaultTtlSeconds: options.ttlS ?? 86_400 }), {
          everyMs: options.cleanupEveryS * 1000,
          batchSize: 1000,
          extra: () => pruneWebhookEvents(stack.pool, { olderThanSeconds: options.ttlS ?? DEFAULT_WEBHOOK_RETENTION_S, batchSize: 1000 }),
          onError: (err) => say(`cleanup failed (retried next time): ${err instanceof Error ? err.message : String(err)}`),
        })
      : undefined;
  let operatorRetries = 0;
  let outageApplied = 0;
  let operator: NodeJS.Timeout | undefined;
  const operatorSweeps = (): void => {
    operator = setTimeout(() => {
      void retryStuckSagas(stack.pool, stack.temporalAddress)
        .then(
          (n) => void (operatorRetries += n),
          () => undefined,
        )
        .finally(() => {
          if (operator) operatorSweeps();
        });
    }, OPERATOR_SWEEP_MS);
  };
  const stopOperator = (): void => {
    clearTimeout(operator);
    operator = undefined;
  };
  // Ctrl-C in a terminal reaches the services too: none is started again once the run is interrupted.
  const onInterrupt = (): void => void mayhem?.close();
  opts.interrupted.addEventListener('abort', onInterrupt, { once: true });
  try {
    mayhem = new Mayhem(
      { pool: stack.pool, database: stack.database.name, temporal: stack.temporal, gateway: stack.gateway, workers: stack.workers, events: stack.events },
      random,
      say,
    );
    const traffic: OrderTraffic[] = [];
    const progress = { accepted: 0, answered: 0, requests: 0, terminal: 0 };
    const report = (phase: ChaosProgress['phase']): void =>
      opts.onProgress({ phase, orders: requests.length, ...progress, counts: { ...(mayhem as Mayhem).counts } });
    const ticker = setInterval(() => report('chaos'), 500);

    // Chaos phase: orders spread over --duration (no faster than --concurrency allows), faults all along.
    const startedAt = Date.now();
    // On a cluster the Temporal faults are SIGKILLs of its service processes, each kind on its own schedule.
    mayhem.start({ ...options, temporalRestartEveryS: options.temporal === 'cluster' ? options.temporalServiceKillEveryS : options.temporalRestartEveryS });
    cleanup?.start();
    // The refund outage starts a quarter into the chaos phase; once it is over the harness retries stuck sagas as an operator.
    const outage =
      options.refundOutageS > 0
        ? new Promise((r) => setTimeout(r, options.durationS * 250))
            .then(() => {
              if (opts.interrupted.aborted) return { reapplied: 0 };
              say(`refund outage: every refund fails for ${options.refundOutageS} s`);
              return refundOutage(stack.gatewayUrl, options.refundOutageS * 1000, opts.interrupted);
            })
            .then(({ reapplied }) => {
              outageApplied = reapplied;
              say('refund outage over: retrying stuck sagas as an operator');
              operatorSweeps();
            })
        : Promise.resolve();
    const spacingMs = (options.durationS * 1000) / requests.length;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < requests.length && !opts.interrupted.aborted) {
        const i = next++;
        const plan = requests[i];
        if (!plan) return;
        const notBefore = startedAt + i * spacingMs;
        if (Date.now() < notBefore) await new Promise((r) => setTimeout(r, notBefore - Date.now()));
        const result = await placeOrder({
          apiUrl: stack.apiUrl,
          apiKey: stack.apiKey,
          plan,
          deadline: Date.now() + ORDER_ACCEPT_DEADLINE_MS,
          stopped: opts.interrupted,
        });
        traffic.push(result);
        progress.answered += 1;
        progress.requests += result.requests;
        if (result.orderId) progress.accepted += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, requests.length) }, lane));
    report('chaos');
    const untilDuration = startedAt + options.durationS * 1000 - Date.now();
    if (untilDuration > 0 && !opts.interrupted.aborted) await new Promise((r) => setTimeout(r, untilDuration));
    clearInterval(ticker);
    await outage;
    say('chaos phase over: no more faults; every service up again; draining');
    await mayhem.stop();
    const chaosPhaseMs = Date.now() - startedAt;
    if (opts.interrupted.aborted) {
      keepData = options.keep;
      throw new ChaosInterruptedError(`after ${progress.accepted} of ${requests.length} orders were accepted`);
    }

    // Drain: every service up, then wait until every accepted order is terminal.
    for (const child of stack.children()) {
      if (opts.interrupted.aborted) break;
      await child.serially(async () => {
        if (!child.running) await child.startUntilUp(opts.interrupted);
      });
    }
    const orderIds = [...new Set(traffic.flatMap((t) => (t.orderId ? [t.orderId] : [])))];
    const drainStarted = Date.now();
    const drainDeadline = drainStarted + options.drainTimeoutS * 1000;
    // With an operator at hand, a saga awaiting one is not done yet.
    const done = options.refundOutageS > 0 ? FINISHED : TERMINAL;
    for (;;) {
      progress.terminal = await countTerminal(stack, orderIds, done);
      report('drain');
      // An order row is terminal a moment before its saga closes (closeSaga comes last): wait for both.
      if (progress.terminal >= orderIds.length && (await sagasClosed(stack))) break;
      if (Date.now() > drainDeadline || opts.interrupted.aborted) break;
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    // The events of the last terminal orders may still be on their way: let them arrive (within the drain's time, at least a minute).
    const events = stack.events
      ? {
          ...(await settleEvents(stack.pool, '%', Math.max(60_000, drainDeadline - Date.now()))),
          // More messages than events: re-publications after a relay kill reached the stream, and the inboxes dropped them.
          inStream: await streamMessageCount(stack.events.natsUrl, eventTopology().stream),
        }
      : undefined;
    const drainMs = Date.now() - drainStarted;
    if (opts.interrupted.aborted) {
      keepData = options.keep;
      throw new ChaosInterruptedError(`while draining (${progress.terminal} of ${orderIds.length} sagas terminal)`);
    }
    await mayhem.close();
    stopOperator();
    await cleanup?.stop();
    const witness = await deletionWitness(stack.pool);
    const takeovers = await takeoverWitness(stack.pool);
    const charges = await chargeCounts(stack);

    const checks = await checkChaosRun({
      stack,
      traffic,
      orders: requests.length,
      orderIds,
      liveRecordsDeleted: witness.live,
      liveExamples: witness.liveExamples,
      naturalKeysOff: !options.naturalKeys,
      gatewayKeyOff: options.providerIgnoresKeys,
      events,
    });
    // A violation keeps the evidence.
    keepData = options.keep || !checks.invariantsHeld;
    return {
      runId,
      options,
      database: stack.database.name,
      runDir: stack.runDir,
      requests: progress.requests,
      duplicateCopies: requests.reduce((sum, r) => sum + r.copies - 1, 0),
      counts: { ...mayhem.counts },
      checks,
      chaosPhaseMs,
      drainMs,
      cleanup: {
        ...(cleanup?.totals ?? { runs: 0, failedRuns: 0, deleted: 0, sagasDeleted: 0, extraDeleted: 0 }),
        witnessed: witness.deleted,
        liveRecordsDeleted: witness.live,
        liveExamples: witness.liveExamples,
      },
      operatorRetries,
      outageApplied,
      takeovers,
      ...charges,
    };
  } finally {
    stopOperator();
    await cleanup?.stop();
    opts.interrupted.removeEventListener('abort', onInterrupt);
    await mayhem?.close();
    await stack.close(!keepData);
  }
}

const TERMINAL = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK'];
const FINISHED = ['COMPLETED', 'COMPENSATED'];

async function countTerminal(stack: ChaosStack, orderIds: string[], statuses: string[], allOrders = false): Promise<number> {
  try {
    const { rows } = await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE ($3 OR id = ANY($1::text[])) AND status = ANY($2::text[])`, [
      orderIds,
      statuses,
      allOrders,
    ]);
    return Number(rows[0]?.n ?? 0);
  } catch {
    return 0; // the next poll asks again
  }
}

/** No saga is still running except those awaiting an operator (their orders are COMPENSATION_STUCK). */
async function sagasClosed(stack: ChaosStack): Promise<boolean> {
  const { running } = await countWorkflows(stack);
  if (running === undefined) return false;
  return running === (await countTerminal(stack, [], ['COMPENSATION_STUCK'], true));
}

/** What the gateway applied, the orders the saga compensated because their charge stayed unconfirmed, and those that went to the operator. */
async function chargeCounts(stack: ChaosStack): Promise<{ gatewayCharges: number; chargesUnconfirmed: number; sentToOperator: number }> {
  const { rows } = await stack.pool.query<{ charges: string; unconfirmed: string; operator: string }>(
    `SELECT (SELECT count(*) FROM gateway_charges) AS charges,
            (SELECT count(*) FROM orders WHERE status = 'COMPENSATED' AND failure_reason LIKE 'PAYMENT_NOT_CONFIRMED%') AS unconfirmed,
            (SELECT count(*) FROM orders WHERE first_stuck_at IS NOT NULL) AS operator`,
  );
  return {
    gatewayCharges: Number(rows[0]?.charges ?? 0),
    chargesUnconfirmed: Number(rows[0]?.unconfirmed ?? 0),
    sentToOperator: Number(rows[0]?.operator ?? 0),
  };
}
