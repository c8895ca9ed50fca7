// The saga helper (DESIGN §5): explicit step IDs, compensations registered before their step
// runs, LIFO compensation that cannot be cancelled, and COMPENSATION_STUCK with an operator way out.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { SAGA_STATUS } from '../src/temporal/search-attributes';

export type StepStatus = 'pending' | 'applied' | 'failed' | 'compensating' | 'compensated' | 'skipped';
/**
 * Compensation attempts per round before COMPENSATION_STUCK, by default: with backoff from 0.2 s doubling
 * to 5 s they span about 26 s, longer than the 15 s default lease a refund may have to wait out.
 */
export const DEFAULT_STUCK_AFTER_ATTEMPTS = 10;

export type SagaStatus = 'RUNNING' | 'COMPENSATING' | 'COMPENSATION_STUCK' | 'COMPLETED' | 'COMPENSATED';

export type StepState = {
  stepId: string;
  status: StepStatus;
  /** Whether a compensation was registered for this step. */
  compensable: boolean;
  error?: string;
  /** Failed rounds of compensation attempts (each round is `stuckAfterAttempts` activity attempts). */
  compensationRounds?: number;
  skipReason?: string;
};

export type SagaState = {
  status: SagaStatus;
  steps: StepState[];
  pivoted: boolean;
  /** Why the saga compensates. */
  reason?: string;
  stuck?: { stepId: string; error: string; rounds: number };
};

export type StepKeys = { forwardKey: string; compensationKey: string };

export type OperatorDecision = { action: 'retry' } | { action: 'skip'; reason: string };

export const SagaErrorType = {
  DuplicateStep: 'DUPLICATE_STEP_ID',
  InvalidStep: 'INVALID_STEP_ID',
  AfterPivot: 'STEP_AFTER_PIVOT_NOT_COMPENSABLE',
} as const;

const STEP_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** The message and failure type at the bottom of a Temporal failure chain. */
export function describeFailure(err: unknown): { type: string; message: string } {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Unknown', message: String(cause) };
}

export type SagaOptions = {
  workflowId: string;
  /** Wait this long (ms) in COMPENSATION_STUCK before retrying on its own (an operator may decide sooner). */
  stuckRetryIntervalMs: number;
  /** Told when the saga enters or leaves COMPENSATION_STUCK (e.g. to mark the order). */
  onStuck?: (stuck: NonNullable<SagaState['stuck']>) => Promise<void>;
};

export class Saga {
  private readonly steps = new Map<string, StepState>();
  private readonly compensations: Array<{ stepId: string; run: () => Promise<unknown> }> = [];
  private status: SagaStatus = 'RUNNING';
  private pivoted = false;
  private reason: string | undefined;
  private stuck: SagaState['stuck'];
  private decision: OperatorDecision | undefined;

  constructor(private readonly opts: SagaOptions) {
    this.publish();
  }

  keys(stepId: string): StepKeys {
    const forwardKey = `${this.opts.workflowId}/${stepId}`;
    return { forwardKey, compensationKey: `${forwardKey}/compensate` };
  }

  /**
   * Runs one forward step. Its compensation is pushed before the step starts, so a step whose
   * effect applied but whose reply was lost is still undone.
   */
  async step<T>(stepId: string, forward: (keys: StepKeys) => Promise<T>, compensate?: (keys: StepKeys) => Promise<unknown>): Promise<T> {
    const state = this.register(stepId, compensate !== undefined);
    const keys = this.keys(stepId);
    if (compensate) {
      if (this.pivoted) throw ApplicationFailure.nonRetryable(`step ${stepId} comes after the pivot and cannot be compensated`, SagaErrorType.AfterPivot);
      this.compensations.push({ stepId, run: () => compensate(keys) });
    }
    try {
      const result = await forward(keys);
      state.status = 'applied';
      return result;
    } catch (err) {
      state.status = 'failed';
      state.error = describeFailure(err).message;
      throw err;
    }
  }

  /** The pivot step: from its start on, nothing compensates and cancellation cannot interrupt it. */
  async pivot<T>(stepId: string, forward: (keys: StepKeys) => Promise<T>): Promise<T> {
    this.pivoted = true;
    return CancellationScope.nonCancellable(() => this.step(stepId, forward));
  }

  get isPivoted(): boolean {
    return this.pivoted;
  }

  complete(): void {
    this.status = 'COMPLETED';
    this.publish();
  }

  /**
   * Runs the registered compensations newest first, outside the reach of cancellation. A
   * compensation that keeps failing parks the saga in COMPENSATION_STUCK until an operator
   * decides (or `stuckRetryInterval` passes); nothing is swallowed.
   */
  async compensate(reason: string): Promise<void> {
    this.reason = reason;
    this.status = 'COMPENSATING';
    this.publish();
    await CancellationScope.nonCancellable(async () => {
      for (const c of [...this.compensations].reverse()) await this.runCompensation(c.stepId, c.run);
    });
    this.status = 'COMPENSATED';
    this.publish();
  }

  /** Operator decision for a stuck compensation; refused unless the saga is stuck. */
  decide(decision: OperatorDecision): void {
    this.decision = decision;
  }

  validateDecision(decision: OperatorDecision): void {
    if (this.status !== 'COMPENSATION_STUCK') throw new Error(`the saga is ${this.status}, not COMPENSATION_STUCK`);
    if (decision.action === 'skip' && !decision.reason?.trim()) throw new Error('skipping a compensation needs a reason');
  }

  state(): SagaState {
    return {
      status: this.status,
      steps: [...this.steps.values()].map((s) => ({ ...s })),
      pivoted: this.pivoted,
      ...(this.reason !== undefined && { reason: this.reason }),
      ...(this.stuck !== undefined && { stuck: { ...this.stuck } }),
    };
  }

  private register(stepId: string, compensable: boolean): StepState {
    if (!STEP_ID.test(stepId)) throw ApplicationFailure.nonRetryable(`invalid step ID ${JSON.stringify(stepId)}`, SagaErrorType.InvalidStep);
    if (this.steps.has(stepId)) throw ApplicationFailure.nonRetryable(`duplicate step ID ${stepId}`, SagaErrorType.DuplicateStep);
    const state: StepState = { stepId, status: 'pending', compensable };
    this.steps.set(stepId, state);
    return state;
  }

  private async runCompensation(stepId: string, run: () => Promise<unknown>): Promise<void> {
    const state = this.steps.get(stepId);
    if (!state) return;
    state.status = 'compensating';
    for (let rounds = 1; ; rounds++) {
      try {
        await run();
        state.status = 'compensated';
        return;
      } catch (err) {
        if (isCancellation(err)) throw err; // cannot happen in a non-cancellable scope; never swallow it
        state.compensationRounds = rounds;
        state.error = describeFailure(err).message;
        this.stuck = { stepId, error: state.error, rounds };
        this.status = 'COMPENSATION_STUCK';
        this.publish();
        await this.opts.onStuck?.(this.stuck);
        await condition(() => this.decision !== undefined, this.opts.stuckRetryIntervalMs);
        const decision = this.decision;
        this.decision = undefined;
        this.stuck = undefined;
        this.status = 'COMPENSATING';
        this.publish();
        if (decision?.action === 'skip') {
          state.status = 'skipped';
          state.skipReason = decision.reason;
          return;
        }
      }
    }
  }

  private publish(): void {
    upsertSearchAttributes([{ key: SAGA_STATUS, value: this.status }]);
  }
}
