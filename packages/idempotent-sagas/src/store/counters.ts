// In-process counters of what the store decided; the API exports them as Prometheus metrics.

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

export type CounterName = (typeof COUNTER_NAMES)[number];
export type CounterSnapshot = Record<CounterName, number>;

export class IdempotencyCounters {
  private readonly values: CounterSnapshot = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as CounterSnapshot;
  private readonly listeners: Array<(name: CounterName) => void> = [];

  inc(name: CounterName): void {
    this.values[name] += 1;
    for (const listener of this.listeners) listener(name);
  }

  /** Called on every increment (the metrics module uses it to mirror counters). */
  onIncrement(listener: (name: CounterName) => void): void {
    this.listeners.push(listener);
  }

  snapshot(): CounterSnapshot {
    return { ...this.values };
  }
}
