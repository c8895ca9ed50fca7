// `npm run demo`: the main job. With nothing configured it starts the embedded PostgreSQL and a Temporal
// dev server (with its UI), migrates, seeds, starts the payment gateway (seeded faults) and an order
// worker in this process, places the orders with injected faults, and checks every invariant of
// DESIGN §6 by code. The last stdout line is JSON; the exit code is 0 only when every invariant holds.
// Ctrl-C stops starting orders, lets those in flight finish, prints what it can and shuts down (exit 130).
import { randomBytes } from 'node:crypto';
import { parseDemoOptions } from '../demo/options';
import { driveWithProgress } from '../demo/progress';
import { planDemo } from '../demo/plan';
import { formatSummary, summarise, summaryJson } from '../demo/report';
import { type DemoStack, startDemoStack } from '../demo/stack';
import { EXIT_INTERRUPTED, onInterrupt, runCommand } from './command';

/** An order still open after this long is reported as not finished (the worst fault path takes ~15 s). */
const ORDER_DEADLINE_MS = 180_000;
/** After Ctrl-C, how long the orders in flight may take to finish. */
const DRAIN_MS = 30_000;

runCommand('demo', parseDemoOptions, async ({ options, config, logger, say }) => {
  // Ctrl-C (or SIGTERM): the first starts no more orders and lets those in flight finish (for at most
  // DRAIN_MS), so their sagas do not end half-way; the second stops waiting; the third exits at once.
  // Either way the summary is printed when Postgres still answers, and everything is shut down in order.
  let stack: DemoStack | undefined;
  const stopping = new AbortController();
  const abandon = new AbortController();
  onInterrupt((signal, count) => {
    if (count > 2) process.exit(EXIT_INTERRUPTED);
    if (count === 2) {
      say(`\n${signal}: no longer waiting for the orders in flight (again to exit at once)`);
      abandon.abort();
      return;
    }
    say(`\n${signal}: no more orders; letting those in flight finish (up to ${DRAIN_MS / 1000} s; again to stop waiting)`);
    stopping.abort();
    setTimeout(() => abandon.abort(), DRAIN_MS).unref();
    // Ctrl-C in a terminal reaches the embedded Postgres and the dev server too: if either has gone, nothing can finish.
    setTimeout(() => {
      if (stack && !abandon.signal.aborted) {
        void servicesAnswer(stack).then((up) => {
          if (up) return;
          say('postgres or temporal has stopped: not waiting for the orders in flight');
          abandon.abort();
        });
      }
    }, 1000).unref();
  });

  const runId = `demo-${Date.now()}-${randomBytes(2).toString('hex')}`;
  const plan = planDemo({ runId, ...options });
  say(`demo run ${runId}: ${options.orders} orders, concurrency ${options.concurrency}, fault rate ${options.faultRate}, seed ${options.seed}`);
  if (plan.scarce.some((s) => s.stock < s.demand)) {
    say(`scarce stock: ${plan.scarce.map((s) => `${s.sku} ${s.stock} units for a demand of ${s.demand}`).join(', ')}`);
  }

  try {
    stack = await startDemoStack({ config, logger, plan, taskQueue: runId, say });
  } catch (err) {
    if (stopping.signal.aborted) {
      say(`interrupted during start-up (${err instanceof Error ? err.message : String(err)})`);
      return EXIT_INTERRUPTED;
    }
    throw err; // a StartupError is printed as `error: …` by runMain (exit 1)
  }

  try {
    const { temporal } = stack;
    const { consumer } = stack.events;
    const runWorkflowsUrl = temporal.uiUrl
      ? `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows?query=${encodeURIComponent(`TaskQueue="${runId}"`)}`
      : undefined;
    if (runWorkflowsUrl) say(`this run's workflows: ${runWorkflowsUrl}`);

    const { outcomes, durationMs } = await driveWithProgress(stack, plan.orders, {
      concurrency: options.concurrency,
      orderDeadlineMs: ORDER_DEADLINE_MS,
      control: { stopStarting: () => stopping.signal.aborted, abandon: abandon.signal },
    });

    const summary = await summarise({
      pool: stack.db.pool,
      runId,
      options,
      orders: plan.orders,
      outcomes,
      injected: stack.faults.counts,
      durationMs,
      temporalUi: temporal.uiUrl,
      runWorkflowsUrl,
      interrupted: stopping.signal.aborted,
      consumerCounts: () => consumer.counts,
    }).catch((err: unknown) => {
      if (!stopping.signal.aborted) throw err;
      // Ctrl-C in a terminal also stops Postgres and the dev server (same process group).
      say(`interrupted: no summary (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    });
    if (!summary) return EXIT_INTERRUPTED;
    process.stdout.write(`${formatSummary(summary).join('\n')}\n`);
    process.stdout.write(`${JSON.stringify(summaryJson(summary))}\n`);
    if (summary.interrupted) return EXIT_INTERRUPTED;
    return summary.invariantsHeld ? 0 : 1;
  } finally {
    say('shutting down…');
    await stack.close();
  }
});

/** Whether Postgres and Temporal both still answer (within 2 s). */
async function servicesAnswer(stack: DemoStack): Promise<boolean> {
  const { connection } = stack.temporal;
  try {
    await Promise.all([stack.db.pool.query('SELECT 1'), connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}))]);
    return true;
  } catch {
    return false;
  }
}
