// In-process counters of what the store decided, per scope; the API and the worker export them as Prometheus metrics.

/** The store's decisions that are counted (per scope). */
export const COUNTER_NAMES = [
  /** An effect ran for the first time (or again after its record expired). */
  'executions',
  /** A duplicate was answered from a stored outcome. */
  'replays',
  /** A duplicate met a key that is still in progress. */
  'conflicts',
  /** A key was reused with a different request fingerprint. */
  'mismatches',
  /** A forward attempt was refused by a compensation tombstone. */
  'abortRefusals',
  /** An expired lease was taken over by a new attempt. */
  'leaseTakeovers',
  /** A write by a stale epoch was refused. */
  'fencedWrites',
  /** A late attempt was refused a new record because its saga had closed. */
  'sagaClosedRefusals',
] as const;

/** One of COUNTER_NAMES. */
export type CounterName = (typeof COUNTER_NAMES)[number];
/** The counters at one moment. */
export type CounterSnapshot = Record<CounterName, number>;

const zeros = (): CounterSnapshot => Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as CounterSnapshot;

/** Counts of the store's decisions, in total and per scope (`step`, `http`, …). */
export class IdempotencyCounters {
  private readonly values: CounterSnapshot = zeros();
  private readonly byScope = new Map<string, CounterSnapshot>();
  private readonly listeners: Array<(name: CounterName, scope: string) => void> = [];

  inc(name: CounterName, scope: string): void {
    this.values[name] += 1;
    const counts = this.byScope.get(scope) ?? zeros();
    counts[name] += 1;
    this.byScope.set(scope, counts);
    for (const listener of this.listeners) listener(name, scope);
  }

  /** Called on every increment (metrics mirror the counters with it). */
  onIncrement(listener: (name: CounterName, scope: string) => void): void {
    this.listeners.push(listener);
  }

  /** Totals over every scope. */
  snapshot(): CounterSnapshot {
    return { ...this.values };
  }

  /** The counts of each scope that has any. */
  snapshotByScope(): Record<string, CounterSnapshot> {
    return Object.fromEntries([...this.byScope].map(([scope, counts]) => [scope, { ...counts }]));
  }
}
