// Fault injection around activities, counted: what a user needs to prove their own saga never
// double-applies. Faults are planned per activity type and fire on its first N attempts.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StepHooks, StepPoint } from '../activity/steps';

/** A fault, injected on the first `times` attempts of an activity (default 1). */
export type Fault =
  /** The activity runs and its effect commits; then the reply is lost (the attempt fails, retryably). */
  | { kind: 'lose-reply'; times?: number }
  /**
   * The effect applies but the process dies before its record commits: a local step's transaction rolls
   * back; an external step's provider call has happened and its claim is left to lapse. Needs the
   * injector's `hooks` in `defineSteps`.
   */
  | { kind: 'crash-before-commit'; times?: number }
  /** The attempt fails before doing anything, like a network blip. */
  | { kind: 'transient'; times?: number };

/** What happened to one activity type. */
export type ActivityFaultCounts = {
  /** Attempts that reached the activity. */
  attempts: number;
  /** Attempts that returned a result to Temporal. */
  succeeded: number;
  /** Attempts that threw (injected or not). */
  failed: number;
  /** Faults injected, by kind. */
  injected: Record<Fault['kind'], number>;
};

/** The error an injected fault throws: retryable, so Temporal tries again as after a real failure. */
export const INJECTED_FAULT = 'INJECTED_FAULT';

const zero = (): ActivityFaultCounts => ({ attempts: 0, succeeded: 0, failed: 0, injected: { 'lose-reply': 0, 'crash-before-commit': 0, transient: 0 } });

/**
 * Plans faults per activity type and counts attempts. Wrap the worker's activities with `wrap`, and
 * pass `hooks` to `defineSteps` for crash-before-commit.
 */
export class FaultInjector {
  private readonly plans = new Map<string, Fault[]>();
  private readonly byActivity = new Map<string, ActivityFaultCounts>();

  /** Plans `fault` for `activityType`; several faults on one activity fire in the order added. */
  add(activityType: string, fault: Fault): this {
    this.plans.set(activityType, [...(this.plans.get(activityType) ?? []), { ...fault, times: fault.times ?? 1 }]);
    return this;
  }

  /** Counts for one activity type (zeros if it never ran). */
  counts(activityType: string): ActivityFaultCounts {
    return structuredClone(this.byActivity.get(activityType) ?? zero());
  }

  /** Counts for every activity type that ran. */
  report(): Record<string, ActivityFaultCounts> {
    return Object.fromEntries([...this.byActivity].map(([name, c]) => [name, structuredClone(c)]));
  }

  /** The hooks for `defineSteps({ hooks })`: crash-before-commit fires there. */
  readonly hooks: StepHooks = {
    beforeCommit: async (point: StepPoint) => {
      if (this.take(point.activityType, 'crash-before-commit')) {
        throw ApplicationFailure.retryable(`injected: ${point.activityType} crashed before its record of ${point.key} committed`, INJECTED_FAULT);
      }
    },
  };

  /** The activities, each wrapped to count attempts and inject its planned transient and lost-reply faults. */
  wrap<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A): A {
    const wrapped: Record<string, (...args: never[]) => Promise<unknown>> = {};
    for (const [name, fn] of Object.entries(activities)) {
      wrapped[name] = async (...args: never[]) => {
        const activityType = Context.current().info.activityType;
        const counts = this.entry(activityType);
        counts.attempts += 1;
        try {
          if (this.take(activityType, 'transient')) throw ApplicationFailure.retryable(`injected: ${activityType} failed transiently`, INJECTED_FAULT);
          const result = await fn(...args);
          if (this.take(activityType, 'lose-reply')) throw ApplicationFailure.retryable(`injected: the reply of ${activityType} was lost`, INJECTED_FAULT);
          counts.succeeded += 1;
          return result;
        } catch (err) {
          counts.failed += 1;
          throw err;
        }
      };
    }
    return wrapped as A;
  }

  private entry(activityType: string): ActivityFaultCounts {
    let counts = this.byActivity.get(activityType);
    if (!counts) this.byActivity.set(activityType, (counts = zero()));
    return counts;
  }

  /** Uses up one planned fault of this kind, if any is left; counts it. */
  private take(activityType: string, kind: Fault['kind']): boolean {
    const fault = this.plans.get(activityType)?.find((f) => f.kind === kind && (f.times ?? 0) > 0);
    if (!fault) return false;
    fault.times = (fault.times ?? 1) - 1;
    this.entry(activityType).injected[kind] += 1;
    return true;
  }
}
