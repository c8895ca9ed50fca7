// `npm run chaos`: the chaos harness (src/chaos/). Progress on stderr; the report and, last, one JSON line
// on stdout. Exit 0 only when every invariant holds; 1 otherwise; 2 for a bad option; 130 on Ctrl-C.
import { parseChaosOptions } from '../chaos/options';
import { chaosProgressBar, formatReport, reportJson } from '../chaos/report';
import { type ChaosResult, runChaos } from '../chaos/run';
import { newRunId } from '../chaos/stack';
import { EXIT_INTERRUPTED, onInterrupt, runCommand } from './command';

runCommand('chaos', parseChaosOptions, async ({ options, config, say }) => {
  const interrupted = new AbortController();
  onInterrupt((signal, count) => {
    if (count > 1) process.exit(EXIT_INTERRUPTED);
    say(`\n${signal}: stopping the run (again to exit at once)`);
    interrupted.abort();
  });

  const runId = newRunId();
  say(
    `chaos run ${runId}: ${options.orders} orders over at least ${options.durationS} s, ${options.workers} workers, seed ${options.seed}; ` +
      `mean seconds between faults: worker kill ${options.workerKillEveryS}, temporal restart ${options.temporalRestartEveryS}, ` +
      `gateway restart ${options.gatewayRestartEveryS}, pg_terminate_backend ${options.pgTerminateEveryS} (0 = off)`,
  );
  const progress = chaosProgressBar();

  let result: ChaosResult;
  try {
    result = await runChaos({ config, options, runId, say, onProgress: progress.update, interrupted: interrupted.signal });
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    // Ctrl-C in a terminal also stops the services (and the embedded Postgres): there may be nothing left to check.
    say(`interrupted ${err instanceof Error ? err.message : String(err)}: no report`);
    return EXIT_INTERRUPTED;
  } finally {
    progress.stop();
  }
  process.stdout.write(`${formatReport(result).join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(reportJson(result))}\n`);
  if (interrupted.signal.aborted) return EXIT_INTERRUPTED;
  return result.checks.invariantsHeld ? 0 : 1;
});
