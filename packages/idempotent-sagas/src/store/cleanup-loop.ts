// Cleanup on a schedule: `npm run db:cleanup -- --every <s>`, the chaos harness and the retention tests
// run the same loop. A run that fails (the database restarting) is reported and the next one tries again.
import type { CleanupReport, IdempotencyStore } from './store';

/** What a CleanupLoop has done since it started. */
export type CleanupTotals = { runs: number; failedRuns: number; deleted: number; sagasDeleted: number; extraDeleted: number };

/** How often a CleanupLoop runs, and how much it deletes per batch. */
export type CleanupLoopOptions = {
  everyMs: number;
  batchSize: number;
  /** More pruning in the same run (e.g. old webhook events); returns how many rows it deleted. */
  extra?: () => Promise<number>;
  onRun?: (report: CleanupReport & { extraDeleted: number }) => void;
  onError?: (err: unknown) => void;
};

/** Runs cleanupExpired on an interval until stopped; a failed run is reported through onError and the next run tries again. */
export class CleanupLoop {
  readonly totals: CleanupTotals = { runs: 0, failedRuns: 0, deleted: 0, sagasDeleted: 0, extraDeleted: 0 };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly store: IdempotencyStore,
    private readonly opts: CleanupLoopOptions,
  ) {
    if (!Number.isFinite(opts.everyMs) || opts.everyMs < 10) throw new RangeError('everyMs must be at least 10');
  }

  /** Runs once now, then every `everyMs` after the previous run ends (runs never overlap). */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** One run; the totals include it. */
  async runOnce(): Promise<void> {
    try {
      const report = await this.store.cleanupExpired({ batchSize: this.opts.batchSize });
      const extraDeleted = this.opts.extra ? await this.opts.extra() : 0;
      this.totals.runs += 1;
      this.totals.deleted += report.deleted;
      this.totals.sagasDeleted += report.sagasDeleted;
      this.totals.extraDeleted += extraDeleted;
      this.opts.onRun?.({ ...report, extraDeleted });
    } catch (err) {
      this.totals.failedRuns += 1;
      this.opts.onError?.(err);
    }
  }

  /** Stops scheduling and waits for a run under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce().then(() => {
        if (!this.#stopped) this.#schedule(this.opts.everyMs);
      });
    }, delayMs);
  }
}
