// The saga helper (DESIGN §5, docs/DESIGN.md): explicit step IDs, compensations registered before their step
// runs, LIFO compensation that cannot be cancelled, and COMPENSATION_STUCK with an operator way out.
// A stuck saga lives for weeks in bounded history: its rounds back off, and it continues-as-new
// carrying its state (snapshot()/Saga.resume) once a run's history grows past a bound (DESIGN §10).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import { STEP_ID_PATTERN, stepKeys, type StepKeys } from '../keys';

/**
 * The patch of the sagas' lifetime changes, evaluated once at workflow start: closeSaga at the end,
 * stuck rounds backing off, continue-as-new, one markOrderStuck per stuck episode. Histories without
 * its marker replay with `legacyHistory`.
 */
export const SAGA_LIFETIME_PATCH = 'saga-lifetime-v1';

/** `compensation-failed`: its compensation failed and the saga went on (onCompensationError 'continue'). */
export type StepStatus = 'pending' | 'applied' | 'failed' | 'compensating' | 'compensated' | 'skipped' | 'compensation-failed';
/**
 * Compensation attempts per round before COMPENSATION_STUCK, by default: with backoff from 0.2 s doubling
 * to 5 s they span about 26 s, longer than the 15 s default lease a refund may have to wait out.
 */
export const DEFAULT_STUCK_AFTER_ATTEMPTS = 10;
/** The first wait of a stuck saga before it retries by itself; each further round doubles it. */
export const DEFAULT_STUCK_RETRY_INTERVAL_MS = 10 * 60_000;
/** The longest wait between two stuck rounds. */
export const DEFAULT_STUCK_RETRY_MAX_INTERVAL_MS = 6 * 3_600_000;
/** A run continues-as-new at the first check point (between compensation rounds) at or past this many events. */
export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;
/** ...or at or past this many bytes of history. */
export const DEFAULT_MAX_HISTORY_BYTES = 4 * 1024 * 1024;
/**
 * The margin of the history bound. Check points are every activation while a stuck saga waits and
 * the start of every compensation round; between two of them a run adds at most one round's events
 * (the compensation activity, markOrderStuck, two search-attribute upserts, a timer, an operator
 * decision and their workflow tasks: about 15) and then the continue-as-new itself (2).
 * Guarantee: a run's history has at most max(maxHistoryEvents, its forward phase) + HISTORY_EVENTS_PER_ROUND
 * events (2,050 by default), not counting signals clients send while a compensation activity is in flight.
 */
export const HISTORY_EVENTS_PER_ROUND = 50;

/** COMPENSATION_FAILED: every compensation ran, some failed (only with onCompensationError 'continue'). */
export type SagaStatus = 'RUNNING' | 'COMPENSATING' | 'COMPENSATION_STUCK' | 'COMPLETED' | 'COMPENSATED' | 'COMPENSATION_FAILED';

/** One step as the saga-state query shows it. */
export type StepState = {
  stepId: string;
  status: StepStatus;
  /** Whether a compensation was registered for this step. */
  compensable: boolean;
  error?: string;
  /** Failed rounds of compensation attempts (each round is `stuckAfterAttempts` activity attempts). */
  compensationRounds?: number;
  skipReason?: string;
  /** Steps of one group are independent of each other: their compensations may run together. */
  parallelGroup?: string;
};

/** What the saga-state query answers. */
export type SagaState = {
  status: SagaStatus;
  steps: StepState[];
  pivoted: boolean;
  /** Why the saga compensates. */
  reason?: string;
  stuck?: { stepId: string; error: string; rounds: number };
};

/**
 * What a compensating saga carries into its next run (continue-as-new): its state, so the query
 * answers the same, and enough to go on. The remaining compensations are the compensable steps not
 * yet `compensated` or `skipped`, run newest first; their closures are rebuilt from step IDs.
 */
export type SagaSnapshot = {
  status: 'COMPENSATING' | 'COMPENSATION_STUCK';
  /** Every step in registration order, with its status and compensation rounds. */
  steps: StepState[];
  pivoted: boolean;
  reason: string;
  stuck?: NonNullable<SagaState['stuck']>;
  /** While stuck: the workflow time (ms since the epoch) at which the stuck step is retried by itself. */
  retryAt?: number;
  /** Stuck episodes reported to onStuck so far; the next run numbers on from here. */
  episodes: number;
};

export type { StepKeys };
/** Undoes a step, given its keys (its activity takes the forward key to find what to undo). */
export type Compensation = (keys: StepKeys) => Promise<unknown>;

/** How one step takes part in compensation. */
export type StepOptions = {
  /**
   * Declares the step independent of the others in the same group: with `compensation: 'parallel'`,
   * the compensations of adjacent steps of one group (newest first) run concurrently.
   */
  parallelGroup?: string;
};

/** A compensation that failed while the saga went on (onCompensationError 'continue'). */
export type CompensationFailure = { stepId: string; error: string };

/** An operator's decision for a stuck compensation: retry it now, or skip it with a reason. */
export type OperatorDecision = { action: 'retry' } | { action: 'skip'; reason: string };

/** The failure types the saga raises. */
export const SagaErrorType = {
  DuplicateStep: 'DUPLICATE_STEP_ID',
  InvalidStep: 'INVALID_STEP_ID',
  AfterPivot: 'STEP_AFTER_PIVOT_NOT_COMPENSABLE',
  /** An operator decision refused by the update's validator (never written to history). */
  DecisionRefused: 'OPERATOR_DECISION_REFUSED',
  /** Compensation ran to the end with onCompensationError 'continue' and some compensations failed; details list them. */
  CompensationFailed: 'COMPENSATION_FAILED',
} as const;

/** The message and failure type at the bottom of a Temporal failure chain. */
export function describeFailure(err: unknown): { type: string; message: string } {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Unknown', message: String(cause) };
}

/** How a saga behaves; only `workflowId` and `stuckRetryIntervalMs` are required. */
export type SagaOptions = {
  workflowId: string;
  /** The first wait (ms) in COMPENSATION_STUCK before retrying on its own (an operator may decide sooner); doubles each round. */
  stuckRetryIntervalMs: number;
  /** The longest wait (ms) between stuck rounds. Default 6 hours. */
  stuckRetryMaxIntervalMs?: number;
  /** Continue-as-new between compensation rounds once the run's history has this many events. Default 2,000. */
  maxHistoryEvents?: number;
  /** ...or this many bytes. Default 4 MiB. */
  maxHistoryBytes?: number;
  /**
   * The command sequence of histories recorded before the `saga-lifetime-v1` patch: a fixed stuck
   * interval, onStuck every round, never continue-as-new. Only for replaying such histories.
   */
  legacyHistory?: boolean;
  /**
   * Told when a stuck episode starts: the first failed round of a step's compensation (every
   * failed round with `legacyHistory`). `episode` counts from 1 over the saga's whole life, across runs.
   */
  onStuck?: (stuck: NonNullable<SagaState['stuck']>, episode: number) => Promise<void>;
  /**
   * Told the saga's status whenever it changes (and once at start): to publish it, e.g. as a search
   * attribute with upsertSearchAttributes. Must be deterministic like all workflow code; optional.
   */
  onStatus?: (status: SagaStatus) => void;
  /** Continues-as-new with this snapshot in the workflow's input (never returns). Without it the saga never does. */
  continueAsNew?: (snapshot: SagaSnapshot) => Promise<never>;
  /**
   * `sequential` (default): one compensation at a time, newest first. `parallel`: adjacent steps of one
   * `parallelGroup` compensate concurrently; a step without a group is a barrier between groups.
   */
  compensation?: 'sequential' | 'parallel';
  /**
   * `park` (default): a failed compensation parks the saga in COMPENSATION_STUCK until it succeeds or an
   * operator skips it. `continue`: the failure is recorded on its step, the others still run, and
   * compensate() ends by throwing COMPENSATION_FAILED with every failure in its details, in step order.
   */
  onCompensationError?: 'park' | 'continue';
};

/** The options of a saga's life that every saga's input takes (PlaceOrderInput, TransferInput). */
export type SagaLifetimeOptions = {
  /** Activity attempts per compensation round before the saga reports COMPENSATION_STUCK. Default 10 (about 26 s of backoff). */
  stuckAfterAttempts?: number;
  /** How long a stuck saga first waits for an operator before retrying by itself, in ms; doubles each round. Default 10 minutes. */
  stuckRetryIntervalMs?: number;
  /** The longest wait between two stuck rounds, in ms. Default 6 hours. */
  stuckRetryMaxIntervalMs?: number;
  /** A compensating run continues-as-new between rounds once its history has this many events. Default 2,000. */
  maxHistoryEvents?: number;
  /** ...or this many bytes. Default 4 MiB. */
  maxHistoryBytes?: number;
};

/** The SagaOptions a saga's input sets, with their defaults. */
export function lifetimeSagaOptions(
  opts: SagaLifetimeOptions,
): Pick<SagaOptions, 'stuckRetryIntervalMs' | 'stuckRetryMaxIntervalMs' | 'maxHistoryEvents' | 'maxHistoryBytes'> {
  return {
    stuckRetryIntervalMs: opts.stuckRetryIntervalMs ?? DEFAULT_STUCK_RETRY_INTERVAL_MS,
    stuckRetryMaxIntervalMs: opts.stuckRetryMaxIntervalMs,
    maxHistoryEvents: opts.maxHistoryEvents,
    maxHistoryBytes: opts.maxHistoryBytes,
  };
}

/** A saga in a workflow: steps with deterministic keys, a pivot, compensation newest first that cannot be cancelled, and COMPENSATION_STUCK with an operator way out. */
export class Saga {
  private readonly steps = new Map<string, StepState>();
  private readonly compensations: Array<{ stepId: string; run: () => Promise<unknown> }> = [];
  private status: SagaStatus = 'RUNNING';
  private pivoted = false;
  private reason: string | undefined;
  private stuck: SagaState['stuck'];
  private decision: OperatorDecision | undefined;
  /** Stuck episodes reported so far (carried across runs). */
  private episodes = 0;
  /** A run resumed while stuck waits for this (workflow time, ms) before its next round. */
  private resumedRetryAt: number | undefined;
  /** Compensation rounds run in this run: a run continues-as-new only after one (so it always makes progress). */
  private roundsThisRun = 0;
  private published: SagaStatus | undefined;

  /** A new saga; `snapshot` only through Saga.resume (which also rebuilds the compensations). */
  constructor(
    private readonly opts: SagaOptions,
    snapshot?: SagaSnapshot,
  ) {
    if (snapshot) {
      if (opts.legacyHistory) throw new Error('a saga resumed from a snapshot never runs with legacyHistory');
      for (const s of snapshot.steps) this.steps.set(s.stepId, { ...s });
      this.status = snapshot.status;
      this.pivoted = snapshot.pivoted;
      this.reason = snapshot.reason;
      this.stuck = snapshot.stuck && { ...snapshot.stuck };
      this.episodes = snapshot.episodes;
      this.resumedRetryAt = snapshot.retryAt;
    }
    this.publish(); // a resumed run re-publishes the status it carries
  }

  /**
   * The saga of a run that continued as new: state from the snapshot, compensation closures rebuilt
   * from step IDs. A compensable step without one is a code bug: the workflow task fails (and is
   * retried), nothing is skipped.
   */
  static resume(snapshot: SagaSnapshot, opts: SagaOptions, compensationFor: (stepId: string) => Compensation | undefined): Saga {
    const saga = new Saga(opts, snapshot);
    for (const s of snapshot.steps) {
      if (!s.compensable) continue;
      const compensate = compensationFor(s.stepId);
      if (!compensate) throw new Error(`no compensation for step ${s.stepId} to resume with`);
      const keys = saga.keys(s.stepId);
      saga.compensations.push({ stepId: s.stepId, run: () => compensate(keys) });
    }
    return saga;
  }

  keys(stepId: string): StepKeys {
    return stepKeys(this.opts.workflowId, stepId);
  }

  /**
   * Runs one forward step. Its compensation is pushed before the step starts, so a step whose
   * effect applied but whose reply was lost is still undone.
   */
  async step<T>(stepId: string, forward: (keys: StepKeys) => Promise<T>, compensate?: Compensation, options: StepOptions = {}): Promise<T> {
    const state = this.register(stepId, compensate !== undefined);
    if (options.parallelGroup !== undefined) state.parallelGroup = options.parallelGroup;
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
   * decides (or its retry interval passes); nothing is swallowed. A resumed saga goes on where
   * its previous run stopped: compensated and skipped steps are not run again.
   */
  async compensate(reason: string): Promise<void> {
    this.reason = reason;
    if (this.status !== 'COMPENSATION_STUCK') this.status = 'COMPENSATING'; // a run resumed while stuck stays stuck
    this.publish();
    await CancellationScope.nonCancellable(async () => {
      const newestFirst = [...this.compensations].reverse();
      if (this.opts.legacyHistory) for (const c of newestFirst) await this.runCompensationLegacy(c.stepId, c.run);
      else for (const batch of this.batches(newestFirst)) await this.runBatch(batch);
    });
    const failures = [...this.steps.values()].filter((s) => s.status === 'compensation-failed').map((s) => ({ stepId: s.stepId, error: s.error ?? '' }));
    this.status = failures.length > 0 ? 'COMPENSATION_FAILED' : 'COMPENSATED';
    this.publish();
    if (failures.length > 0) {
      const list = failures.map((f) => `${f.stepId} (${f.error})`).join('; ');
      throw ApplicationFailure.nonRetryable(`${failures.length} compensation(s) failed: ${list}`, SagaErrorType.CompensationFailed, { failures });
    }
  }

  /** Compensations in the order they run: one at a time, or adjacent steps of one parallel group together. */
  private batches(newestFirst: Array<{ stepId: string; run: () => Promise<unknown> }>): Array<typeof newestFirst> {
    const batches: Array<typeof newestFirst> = [];
    for (const c of newestFirst) {
      const group = this.opts.compensation === 'parallel' ? this.steps.get(c.stepId)?.parallelGroup : undefined;
      const last = batches[batches.length - 1];
      const lastGroup = last?.[0] && this.steps.get(last[0].stepId)?.parallelGroup;
      if (last && group !== undefined && group === lastGroup) last.push(c);
      else batches.push([c]);
    }
    return batches;
  }

  /**
   * A batch of one runs as always. A parallel batch runs its first round together; what failed then goes
   * on one step at a time (that failed round counts as its first), so at most one step is stuck at once.
   * A run resumed after that round (its members already `compensating`) goes on one step at a time:
   * the stuck member first finishes its wait, the others each run a round of their own in turn.
   */
  private async runBatch(batch: Array<{ stepId: string; run: () => Promise<unknown> }>): Promise<void> {
    const todo = batch.filter((c) => !this.isSettled(c.stepId));
    const roundDone = todo.some((c) => this.steps.get(c.stepId)?.status === 'compensating');
    if (todo.length <= 1 || roundDone) {
      for (const c of todo) await this.runCompensation(c.stepId, c.run);
      return;
    }
    if (this.historyDue()) await this.continueAsNew(undefined);
    this.roundsThisRun += 1;
    for (const c of todo) this.steps.get(c.stepId)!.status = 'compensating';
    const outcomes = await Promise.allSettled(todo.map((c) => c.run()));
    for (const [i, c] of todo.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.status === 'fulfilled') this.steps.get(c.stepId)!.status = 'compensated';
      else if (isCancellation(outcome.reason)) throw outcome.reason; // cannot happen in a non-cancellable scope; never swallow it
    }
    for (const [i, c] of todo.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.status === 'rejected') await this.runCompensation(c.stepId, c.run, { error: outcome.reason });
    }
  }

  /** Compensated, skipped or failed for good (in this run or an earlier one). */
  private isSettled(stepId: string): boolean {
    const status = this.steps.get(stepId)?.status;
    return status === 'compensated' || status === 'skipped' || status === 'compensation-failed';
  }

  /** Operator decision for a stuck compensation; call validateDecision first (the update's validator). */
  decide(decision: OperatorDecision): void {
    this.decision = decision;
  }

  /** Refuses, before anything is written to history, a decision the saga cannot act on. */
  validateDecision(decision: OperatorDecision): void {
    const refuse = (message: string): never => {
      throw ApplicationFailure.nonRetryable(message, SagaErrorType.DecisionRefused);
    };
    // Two decisions in one activation would otherwise overwrite each other: the first one stands.
    if (this.decision !== undefined) refuse(`an operator decision (${this.decision.action}) is pending; wait for its answer`);
    if (this.status !== 'COMPENSATION_STUCK') refuse(`the saga is ${this.status}, not COMPENSATION_STUCK`);
    const action = (decision as { action?: unknown } | null)?.action;
    if (action !== 'retry' && action !== 'skip') refuse(`unknown action ${JSON.stringify(action)}: retry or skip`);
    if (decision.action === 'skip' && !(typeof decision.reason === 'string' && decision.reason.trim())) refuse('skipping a compensation needs a reason');
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

  /** The state a compensating saga carries into its next run; `retryAt` while stuck. */
  snapshot(retryAt?: number): SagaSnapshot {
    if (this.status !== 'COMPENSATING' && this.status !== 'COMPENSATION_STUCK')
      throw new Error(`only a compensating saga has a snapshot, not a ${this.status} one`);
    return {
      status: this.status,
      steps: [...this.steps.values()].map((s) => ({ ...s })),
      pivoted: this.pivoted,
      reason: this.reason ?? 'compensated',
      ...(this.stuck && { stuck: { ...this.stuck } }),
      ...(this.status === 'COMPENSATION_STUCK' && retryAt !== undefined && { retryAt }),
      episodes: this.episodes,
    };
  }

  private register(stepId: string, compensable: boolean): StepState {
    if (!STEP_ID_PATTERN.test(stepId)) throw ApplicationFailure.nonRetryable(`invalid step ID ${JSON.stringify(stepId)}`, SagaErrorType.InvalidStep);
    if (this.steps.has(stepId)) throw ApplicationFailure.nonRetryable(`duplicate step ID ${stepId}`, SagaErrorType.DuplicateStep);
    const state: StepState = { stepId, status: 'pending', compensable };
    this.steps.set(stepId, state);
    return state;
  }

  /**
   * One compensation until it succeeds or an operator skips it. Rounds back off (interval doubling
   * to the maximum); onStuck is told once per episode; the run continues-as-new at a check point
   * (before a round, or while waiting between rounds) once its history is past the bound.
   */
  private async runCompensation(stepId: string, run: () => Promise<unknown>, firstRound?: { error: unknown }): Promise<void> {
    const state = this.steps.get(stepId);
    if (!state || this.isSettled(stepId)) return; // done in an earlier run
    state.status = 'compensating';
    // A run resumed while stuck on this step first finishes the wait its previous run started.
    let retryAt = this.stuck?.stepId === stepId ? (this.resumedRetryAt ?? Date.now()) : undefined;
    this.resumedRetryAt = undefined;
    for (;;) {
      if (retryAt === undefined) {
        const failure = firstRound ?? (await this.round(state, run)); // a first round already run with its batch
        firstRound = undefined;
        if (!failure) return;
        const err = failure.error;
        if (this.opts.onCompensationError === 'continue') {
          state.status = 'compensation-failed';
          state.error = describeFailure(err).message;
          return;
        }
        const rounds = (state.compensationRounds ?? 0) + 1;
        state.compensationRounds = rounds;
        state.error = describeFailure(err).message;
        this.stuck = { stepId, error: state.error, rounds };
        this.status = 'COMPENSATION_STUCK';
        this.publish();
        if (rounds === 1) {
          this.episodes += 1;
          await this.opts.onStuck?.(this.stuck, this.episodes);
        }
        retryAt = Date.now() + this.stuckWaitMs(rounds);
      }
      const decision = await this.awaitDecision(retryAt);
      retryAt = undefined;
      if (this.unstick(state, decision)) return;
    }
  }

  /** Leaves COMPENSATION_STUCK after a decision (or the wait); true when the step was skipped. */
  private unstick(state: StepState, decision: OperatorDecision | undefined): boolean {
    this.stuck = undefined;
    this.status = 'COMPENSATING';
    this.publish();
    if (decision?.action !== 'skip') return false;
    state.status = 'skipped';
    state.skipReason = decision.reason;
    return true;
  }

  /** One round of a compensation (its activity retries within it); undefined when it succeeded. */
  private async round(state: StepState, run: () => Promise<unknown>): Promise<{ error: unknown } | undefined> {
    if (this.historyDue()) await this.continueAsNew(undefined);
    this.roundsThisRun += 1;
    try {
      await run();
      state.status = 'compensated';
      return undefined;
    } catch (err) {
      if (isCancellation(err)) throw err; // cannot happen in a non-cancellable scope; never swallow it
      return { error: err };
    }
  }

  /** The wait after the n-th failed round: the interval doubled (n - 1) times, at most the maximum. */
  private stuckWaitMs(rounds: number): number {
    const first = this.opts.stuckRetryIntervalMs;
    const max = Math.max(first, this.opts.stuckRetryMaxIntervalMs ?? DEFAULT_STUCK_RETRY_MAX_INTERVAL_MS);
    return Math.min(max, first * 2 ** Math.min(rounds - 1, 60));
  }

  /** An operator decision, or undefined once retryAt passed; continues-as-new meanwhile if the history is due. */
  private async awaitDecision(retryAt: number): Promise<OperatorDecision | undefined> {
    for (;;) {
      const woken = await condition(() => this.decision !== undefined || this.historyDue(), Math.max(1, retryAt - Date.now()));
      if (!woken || this.decision !== undefined) break;
      await this.continueAsNew(retryAt); // returns only if a decision arrived meanwhile
    }
    const decision = this.decision;
    this.decision = undefined;
    return decision;
  }

  /** Past the bound, and this run made progress (so a run never continues-as-new straight away). */
  private historyDue(): boolean {
    if (!this.opts.continueAsNew || this.roundsThisRun === 0) return false;
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      info.historyLength >= (this.opts.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS) ||
      info.historySize >= (this.opts.maxHistoryBytes ?? DEFAULT_MAX_HISTORY_BYTES)
    );
  }

  /**
   * Continues-as-new once every handler finished (an operator's update gets its answer from this
   * run). Returns, without continuing, only when an operator decision arrived while it waited.
   */
  private async continueAsNew(retryAt: number | undefined): Promise<void> {
    const continueAsNew = this.opts.continueAsNew;
    if (!continueAsNew) return;
    await condition(() => allHandlersFinished() || this.decision !== undefined);
    if (this.decision !== undefined) return;
    await continueAsNew(this.snapshot(retryAt));
  }

  /** The command sequence of histories recorded before `saga-lifetime-v1`; do not change it. */
  private async runCompensationLegacy(stepId: string, run: () => Promise<unknown>): Promise<void> {
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
        this.episodes += 1;
        await this.opts.onStuck?.(this.stuck, this.episodes);
        await condition(() => this.decision !== undefined, this.opts.stuckRetryIntervalMs);
        const decision = this.decision;
        this.decision = undefined;
        if (this.unstick(state, decision)) return;
      }
    }
  }

  /** Tells onStatus; a bounded saga only when the value changes (an upserted search attribute is an event). */
  private publish(): void {
    // The UI's current details (workflow metadata, not history): while stuck, which step and why.
    setCurrentDetails(this.stuck ? `COMPENSATION_STUCK on step ${this.stuck.stepId} after ${this.stuck.rounds} failed round(s): ${this.stuck.error}` : '');
    if (!this.opts.legacyHistory && this.published === this.status) return;
    this.published = this.status;
    this.opts.onStatus?.(this.status);
  }
}
