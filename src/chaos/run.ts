// One chaos run: start the stack, place the orders over HTTP while the faults run, stop the faults once
// the chaos phase is over (at least --duration, and every order accepted), drain, and check.
import type { Config } from '../config';
import { planDemo } from '../demo/plan';
import { mulberry32 } from '../random';
import { type ChaosChecks, checkChaosRun } from './checks';
import { Mayhem, type MayhemCounts } from './mayhem';
import type { ChaosOptions } from './options';
import { type ChaosStack, startChaosStack } from './stack';
import { type OrderTraffic, placeOrder, planRequests } from './traffic';

/** Share of orders given a targeted gateway fault (decline, 5xx, apply-then-timeout, …); random gateway faults at a quarter of it. */
const FAULT_RATE = 0.2;
/** How long one order's copies keep retrying before the order counts as not accepted. */
const ORDER_ACCEPT_DEADLINE_MS = 180_000;
const DRAIN_POLL_MS = 1000;

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
    say,
    onUnexpectedExit: (child) => mayhem?.revive(child),
  });
  let keepData = true;
  // Ctrl-C in a terminal reaches the services too: none is started again once the run is interrupted.
  const onInterrupt = (): void => void mayhem?.close();
  opts.interrupted.addEventListener('abort', onInterrupt, { once: true });
  try {
    mayhem = new Mayhem(
      { pool: stack.pool, database: stack.database.name, temporal: stack.temporal, gateway: stack.gateway, workers: stack.workers },
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
    mayhem.start(options);
    const spacingMs = (options.durationS * 1000) / requests.length;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < requests.length && !opts.interrupted.aborted) {
        const i = next++;
        const plan = requests[i];
        if (!plan) return;
        const notBefore = startedAt + i * spacingMs;
        if (Date.now() < notBefore) await new Promise((r) => setTimeout(r, notBefore - Date.now()));
        const result = await placeOrder({ apiUrl: stack.apiUrl, apiKey: stack.apiKey, plan, deadline: Date.now() + ORDER_ACCEPT_DEADLINE_MS, stopped: opts.interrupted });
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
    for (;;) {
      progress.terminal = await countTerminal(stack, orderIds);
      report('drain');
      if (progress.terminal >= orderIds.length || Date.now() > drainDeadline || opts.interrupted.aborted) break;
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    const drainMs = Date.now() - drainStarted;
    if (opts.interrupted.aborted) {
      keepData = options.keep;
      throw new ChaosInterruptedError(`while draining (${progress.terminal} of ${orderIds.length} sagas terminal)`);
    }
    await mayhem.close();

    const checks = await checkChaosRun({ stack, traffic, orders: requests.length, orderIds });
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
    };
  } finally {
    opts.interrupted.removeEventListener('abort', onInterrupt);
    await mayhem?.close();
    await stack.close(!keepData);
  }
}

async function countTerminal(stack: ChaosStack, orderIds: string[]): Promise<number> {
  try {
    const { rows } = await stack.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM orders WHERE id = ANY($1::text[]) AND status IN ('COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK')`,
      [orderIds],
    );
    return Number(rows[0]?.n ?? 0);
  } catch {
    return 0; // the next poll asks again
  }
}
