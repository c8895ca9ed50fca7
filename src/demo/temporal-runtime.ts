// The Temporal SDK's runtime for the demo: its log lines (worker, activities, native core) go to our pino logger,
// and it leaves SIGINT/SIGTERM to the demo, which shuts its worker down itself (in order, after the summary).
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

/** Call once, before any Temporal connection or dev server is created. */
export function installTemporalRuntime(logger: Logger): void {
  const temporal = logger.child({ component: 'temporal' });
  // The lowest SDK level whose lines our logger would print (nothing is formatted for nothing).
  const levels: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  const lowest = levels.find((l) => temporal.isLevelEnabled(TO_PINO[l])) ?? 'ERROR';
  Runtime.install({
    shutdownSignals: [],
    // The native core's lines (e.g. polls retried while a server is unreachable) go the same way.
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
    logger: new DefaultLogger(lowest, (entry) => {
      const level = TO_PINO[entry.level];
      if (temporal.isLevelEnabled(level)) temporal[level](entry.meta ?? {}, entry.message);
    }),
  });
}
