// The Temporal SDK's runtime: its log lines (worker, workflows, activities with their workflow and
// activity IDs, the native core) go to our pino logger as JSON. The demo, chaos and npm start handle
// SIGINT/SIGTERM themselves (shutting their workers down in order); a worker process lets the SDK do it.
// Optionally the SDK's own metrics are served in Prometheus format (the worker's /metrics appends them).
// Under injected faults every retried activity logs a warning; those are expected, so the SDK's
// WARN becomes our info (shown with LOG_LEVEL=info) and its ERROR stays an error.
import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Logger } from '../logger';

const TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'trace',
  INFO: 'debug',
  WARN: 'info',
  ERROR: 'error',
};

export type RuntimeOptions = {
  /** The SDK shuts its workers down on SIGINT/SIGTERM (a worker process); off by default (the caller handles signals). */
  sdkHandlesSignals?: boolean;
  /** host:port where the SDK serves its metrics (Prometheus naming: _total counters, seconds); none when unset. */
  metricsBindAddress?: string;
};

/** Call once, before any Temporal connection or dev server is created. */
export function installTemporalRuntime(logger: Logger, opts: RuntimeOptions = {}): void {
  const temporal = logger.child({ component: 'temporal' });
  // The lowest SDK level whose lines our logger would print (nothing is formatted for nothing).
  const levels: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  const lowest = levels.find((l) => temporal.isLevelEnabled(TO_PINO[l])) ?? 'ERROR';
  Runtime.install({
    ...(!opts.sdkHandlesSignals && { shutdownSignals: [] }),
    telemetryOptions: {
      // The native core's lines (e.g. polls retried while a server is unreachable) go the same way.
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(opts.metricsBindAddress && {
        metrics: { prometheus: { bindAddress: opts.metricsBindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
      }),
    },
    logger: new DefaultLogger(lowest, (entry) => {
      const level = TO_PINO[entry.level];
      if (temporal.isLevelEnabled(level)) temporal[level](entry.meta ?? {}, entry.message);
    }),
  });
}
