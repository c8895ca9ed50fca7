// The three step kinds (DESIGN §3–§4, docs/DESIGN.md) as activity definitions: each wraps input validation,
// the own-key check, the store protocol of its kind and the translation of failures into Temporal's.
// Invariant: every effect a step applies goes through one idempotency record keyed by the saga's step key.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { BusinessFailure, StaleEpochError } from '../errors';
import type { IdempotencyStore, LocalCompensation } from '../store/store';
import { ActivityErrorType, assertOwnKey, attemptOwner, ownSagaId, parseInput } from './context';
import { translated } from './failures';

/** The store scope of saga step records, unless `defineSteps` is given another. */
export const DEFAULT_STEP_SCOPE = 'step';
/** How long a claim on an external effect lasts without a heartbeat, unless `defineSteps` is given another. */
export const DEFAULT_LEASE_MS = 15_000;

/** Where a step's records live and how long its external claims last. */
export type StepKindOptions = {
  store: IdempotencyStore;
  /** The store scope of the step records (its TTL is the scope's). Default `step`. */
  scope?: string;
  /** A claim on an external effect lapses this long after its last heartbeat (ms). Default 15 s. */
  leaseMs?: number;
  /** Called at the points where a crash hurts most; for fault injection in tests (idempotent-sagas/testing). */
  hooks?: StepHooks;
};

/** Where a step is when a hook runs. */
export type StepPoint = { activityType: string; key: string; attempt: number; kind: 'local' | 'external' | 'at-most-once' };

/** Test hooks: a hook that throws behaves as a crash at that point. */
export type StepHooks = {
  /**
   * After the effect applied, before its record commits: for a local step inside the transaction (a throw
   * rolls both back); for an external step after the provider answered (a throw leaves the claim to lapse).
   */
  beforeCommit?: (point: StepPoint) => Promise<void>;
};

/** The input of closeSaga: the saga (its own workflow ID) and its terminal status. */
export const CloseSagaInput = z.object({ sagaId: z.string().min(1).max(255), outcome: z.string().regex(/^[A-Z][A-Z_]{0,63}$/) });

/** A schema whose parsed input the activity receives. */
type Schema = z.ZodType;
type In<S extends Schema> = z.output<S>;

/** An activity function: Temporal passes it the workflow's argument, which is validated first. */
export type StepActivity<S extends Schema, R> = (raw: z.input<S>) => Promise<R>;

/** Reads a step's key from its input (the `key` field by default). */
export type KeyOf<S extends Schema> = (input: In<S>) => string;

/** A local effect: runs in the transaction that stores its result, so it applies exactly once. */
export type LocalStepDefinition<S extends Schema, R> = {
  input: S;
  /** The step's key in the input; default `input.key`. */
  key?: KeyOf<S>;
  /** The effect, on the transaction's client. Throw a BusinessFailure for a definitive refusal (stored, replayed). */
  effect: (client: PoolClient, input: In<S>) => Promise<R>;
};

/** The undo of a local step, in one transaction with the record of it. */
export type LocalCompensationDefinition<S extends Schema, R> = {
  input: S;
  /** The forward step's key in the input; default `input.forwardKey`. */
  forwardKey?: KeyOf<S>;
  /** Undoes an applied forward step from its stored result. */
  undo: (client: PoolClient, applied: R, input: In<S>) => Promise<void>;
  /**
   * Undoes by natural key when no record exists (the record expired or was never written): says
   * whether it found the effect applied. Default: nothing to undo. A missing record is not proof.
   */
  undoByNaturalKey?: (client: PoolClient, input: In<S>) => Promise<boolean>;
};

/** What the provider said. Only `applied` and `refused` are definitive; `pending` keeps the key open. */
export type ProviderAnswer<R> =
  | { outcome: 'applied'; result: R }
  | { outcome: 'refused'; failure: BusinessFailure }
  /** Accepted but not final (a webhook or a later lookup settles it): returned to the workflow, not stored. */
  | { outcome: 'pending'; result: R };

/** An effect at a provider, sent with the step's key as the provider's idempotency key. */
export type ExternalStepDefinition<S extends Schema, R> = {
  input: S;
  /** The step's key in the input; default `input.key`. */
  key?: KeyOf<S>;
  /**
   * Sends the request, with `key` as the provider's idempotency key. Throwing means the outcome is
   * unknown (timeout, 5xx, dropped connection): the claim is released and the attempt fails retryably.
   */
  call: (input: In<S>, key: string) => Promise<ProviderAnswer<R>>;
  /** Looks the effect up at the provider by our key: its answer, or undefined if the provider never saw the key. */
  lookup?: (input: In<S>, key: string) => Promise<ProviderAnswer<R> | undefined>;
  /**
   * Mirrors an applied result into the caller's own tables: in the transaction that stores it, and
   * again whenever a retry finds it stored. Must be idempotent.
   */
  record?: (db: Pool | PoolClient, input: In<S>, result: R) => Promise<void>;
  /** The failure when a lookup finds nothing definitive. Default type NOT_CONFIRMED. */
  notConfirmed?: (input: In<S>, pending: boolean) => BusinessFailure;
};

/** The activities of an external step: the call, and the reconciliation a workflow runs once retries ran out. */
export type ExternalStep<S extends Schema, R> = {
  /** Claims the key under a fenced lease and calls the provider (at most once: only the first attempt calls). */
  execute: StepActivity<S, R>;
  /** Asks the provider by key under a claim: stores a definitive answer, else fails with `notConfirmed`. */
  reconcile: StepActivity<S, R>;
};

/** How a compensation of an external step ended. */
export type ExternalCompensation =
  /** The forward step failed definitively: nothing to undo. */
  | 'not-applied'
  | 'already-compensated'
  | 'already-aborted'
  /** No record existed and the provider had nothing under the key: the tombstone refuses a late forward call. */
  | 'tombstoned'
  /** No record existed, but the provider held an effect under the key and undid it. */
  | 'compensated-by-key'
  | 'compensated'
  /** The forward outcome was unknown and the provider had nothing to undo. */
  | 'aborted';

/** The undo of an external step at the provider. */
export type ExternalCompensationDefinition<S extends Schema, R, U extends { undone: boolean }> = {
  input: S;
  /** The forward step's key in the input; default `input.forwardKey`. */
  forwardKey?: KeyOf<S>;
  /** Further keys in the input that must belong to this workflow too (e.g. the compensation's own key). */
  ownKeys?: (input: In<S>) => string[];
  /**
   * Undoes at the provider: by the stored result when the step applied, by our key when its outcome is
   * unknown or unrecorded. Must be idempotent at the provider; `undone` says whether anything was there.
   */
  undo: (input: In<S>, target: { applied: R } | { key: string }) => Promise<U>;
  /** Mirrors the undo into the caller's tables with the record (`undo` undefined when a retry finds it already done). Idempotent. */
  record?: (db: Pool | PoolClient, input: In<S>, undo: U | undefined) => Promise<void>;
};

/** The step kinds bound to one store. */
export type StepKinds = ReturnType<typeof defineSteps>;

const keyField =
  (field: 'key' | 'forwardKey') =>
  (input: unknown): string => {
    const key = (input as Record<string, unknown> | null)?.[field];
    if (typeof key !== 'string') throw ApplicationFailure.nonRetryable(`invalid activity input: ${field}: expected a string`, ActivityErrorType.InvalidInput);
    return key;
  };

/** What every step does first: its input validated, its key read and checked to belong to this workflow (with any other keys it names). */
function admit<S extends Schema>(schema: S, keyOf: KeyOf<S>, raw: unknown, otherKeys?: (input: In<S>) => string[]): { input: In<S>; key: string } {
  const input = parseInput(schema, raw);
  const key = keyOf(input);
  assertOwnKey(key, ...(otherKeys?.(input) ?? []));
  return { input, key };
}

/**
 * Binds the step kinds to a store: `local`, `external` and `atMostOnce` define forward activities,
 * `compensateLocal` and `compensateExternal` their undos, `closeSaga` the end of a saga's life.
 */
export function defineSteps(opts: StepKindOptions) {
  const { store } = opts;
  const scope = opts.scope ?? DEFAULT_STEP_SCOPE;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const beforeCommit = async (kind: StepPoint['kind'], key: string): Promise<void> => {
    if (!opts.hooks?.beforeCommit) return;
    const info = Context.current().info;
    await opts.hooks.beforeCommit({ activityType: info.activityType, key, attempt: info.attempt, kind });
  };

  /** Keeps the lease and Temporal's heartbeat alive while a provider call is in flight. */
  async function whileLeased<T>(key: string, epoch: number, call: () => Promise<T>): Promise<T> {
    const beat = setInterval(
      () => {
        Context.current().heartbeat();
        store.heartbeatLease({ scope, key, epoch, leaseMs }).catch(() => undefined); // fenced or a DB hiccup: the final write is fenced anyway
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    try {
      return await call();
    } finally {
      clearInterval(beat);
    }
  }

  /** A claim's best-effort release: the next attempt may take over at once (the final write is fenced anyway). */
  const release = (key: string, epoch: number) => store.releaseLease({ scope, key, epoch }).catch(() => undefined);

  function externalKind<S extends Schema, R>(def: ExternalStepDefinition<S, R>, atMostOnce: boolean): ExternalStep<S, R> {
    const keyOf: KeyOf<S> = def.key ?? keyField('key');
    const notConfirmed =
      def.notConfirmed ??
      ((_input: In<S>, pending: boolean) =>
        new BusinessFailure('NOT_CONFIRMED', pending ? 'the effect is still pending at the provider' : 'the provider has no effect under this key', {
          pending,
        }));

    /** Stores a definitive answer by our epoch (mirrored in the same transaction); a pending one leaves the key open. */
    async function settle(input: In<S>, key: string, epoch: number, answer: ProviderAnswer<R>): Promise<R> {
      if (answer.outcome === 'refused') {
        await store.failLease({ scope, key, epoch, failure: answer.failure });
        throw answer.failure;
      }
      if (answer.outcome === 'pending') {
        await store.releaseLease({ scope, key, epoch });
        return answer.result;
      }
      const record = def.record;
      await store.completeLease({
        scope,
        key,
        epoch,
        result: answer.result,
        ...(record && { inTransaction: (client) => record(client, input, answer.result) }),
      });
      return answer.result;
    }

    async function reconcileClaimed(input: In<S>, key: string, epoch: number): Promise<R> {
      if (!def.lookup) throw new Error(`step ${key} has no lookup to reconcile with`);
      let answer: ProviderAnswer<R> | undefined;
      try {
        answer = await def.lookup(input, key);
      } catch (err) {
        await release(key, epoch); // the provider did not answer: nothing was decided
        throw err;
      }
      if (answer && answer.outcome !== 'pending') return settle(input, key, epoch, answer);
      await store.releaseLease({ scope, key, epoch });
      throw notConfirmed(input, answer !== undefined);
    }

    /** Validates, checks the key, claims it; a stored outcome is replayed (and mirrored again). */
    async function claim(raw: unknown, body: (input: In<S>, key: string, claim: { epoch: number; attempt: number }) => Promise<R>): Promise<R> {
      const { input, key } = admit(def.input, keyOf, raw);
      return translated(async () => {
        const claimed = await store.claimLease<R>({ scope, key, sagaId: ownSagaId(), request: input, owner: attemptOwner(), leaseMs });
        if (claimed.kind === 'replayed') {
          await def.record?.(store.pool, input, claimed.result);
          return claimed.result;
        }
        return body(input, key, claimed);
      });
    }

    return {
      execute: (raw) =>
        claim(raw, async (input, key, { epoch, attempt }) => {
          // At most once: an earlier attempt claimed the key and may have sent; never send again, look it up.
          if (atMostOnce && attempt > 1) return reconcileClaimed(input, key, epoch);
          let answer: ProviderAnswer<R>;
          try {
            answer = await whileLeased(key, epoch, () => def.call(input, key));
          } catch (err) {
            await release(key, epoch);
            throw err;
          }
          await beforeCommit(atMostOnce ? 'at-most-once' : 'external', key);
          return settle(input, key, epoch, answer);
        }),
      reconcile: (raw) => claim(raw, (input, key, { epoch }) => reconcileClaimed(input, key, epoch)),
    };
  }

  return {
    /**
     * A local effect, exactly once: the effect and its record commit in one transaction (DESIGN §3). The effect
     * must be only its writes on `client`: the function may run for a duplicate whose writes then roll back.
     */
    local<S extends Schema, R>(def: LocalStepDefinition<S, R>): StepActivity<S, R> {
      const keyOf: KeyOf<S> = def.key ?? keyField('key');
      return async (raw) => {
        const { input, key } = admit(def.input, keyOf, raw);
        return translated(async () => {
          const { result } = await store.runOnce({
            scope,
            key,
            sagaId: ownSagaId(),
            request: input,
            // A first attempt almost always finds no record: its key is written last (a record it does find still answers).
            expectNew: Context.current().info.attempt === 1,
            effect: async (client) => {
              const applied = await def.effect(client, input);
              await beforeCommit('local', key);
              return applied;
            },
          });
          return result;
        });
      };
    },

    /**
     * An external effect at a provider that honours our idempotency key (DESIGN §4): claimed under a
     * fenced lease, sent with the key, stored only by the current epoch; a retry after an ambiguous
     * answer sends again with the same key and the provider answers from its own record.
     */
    external<S extends Schema, R>(def: ExternalStepDefinition<S, R>): ExternalStep<S, R> {
      return externalKind(def, false);
    },

    /**
     * An external effect at a provider that honours no idempotency key: only the first attempt ever
     * calls; any later attempt looks the effect up (`lookup` is required) and either stores what it
     * finds or fails with `notConfirmed`, for the saga to compensate or an operator to decide.
     */
    atMostOnce<S extends Schema, R>(def: ExternalStepDefinition<S, R> & { lookup: NonNullable<ExternalStepDefinition<S, R>['lookup']> }): ExternalStep<S, R> {
      return externalKind(def, true);
    },

    /** The undo of a local step: applied → undone once; no record → tombstoned (and undone by natural key if found). */
    compensateLocal<S extends Schema, R>(def: LocalCompensationDefinition<S, R>): StepActivity<S, LocalCompensation> {
      const keyOf: KeyOf<S> = def.forwardKey ?? keyField('forwardKey');
      return async (raw) => {
        const { input, key } = admit(def.input, keyOf, raw);
        const byNaturalKey = def.undoByNaturalKey;
        return translated(() =>
          store.compensateLocal<R>({
            scope,
            key,
            sagaId: ownSagaId(),
            undo: (client, applied) => def.undo(client, applied, input),
            undoByNaturalKey: byNaturalKey ? (client) => byNaturalKey(client, input) : async () => false,
          }),
        );
      };
    },

    /**
     * The undo of an external step: waits out a live forward lease and fences it, then undoes at the
     * provider by the stored result (applied) or by our key (unknown, or no record at all), and
     * records the undo by the fence's epoch. A retry finds it done.
     */
    compensateExternal<S extends Schema, R, U extends { undone: boolean }>(
      def: ExternalCompensationDefinition<S, R, U>,
    ): StepActivity<S, ExternalCompensation> {
      const keyOf: KeyOf<S> = def.forwardKey ?? keyField('forwardKey');
      return async (raw) => {
        const { input, key } = admit(def.input, keyOf, raw, def.ownKeys);
        const mirror = (undo: U | undefined) => (def.record ? (client: PoolClient) => def.record!(client, input, undo) : undefined);
        return translated(async (): Promise<ExternalCompensation> => {
          const fence = await store.fenceForCompensation<R>({ scope, key, sagaId: ownSagaId(), owner: attemptOwner(), leaseMs });
          if (fence.kind === 'not-applied') return 'not-applied';
          if (fence.kind === 'done') {
            if (fence.status === 'compensated') await def.record?.(store.pool, input, undefined);
            return fence.status === 'compensated' ? 'already-compensated' : 'already-aborted';
          }
          const undo = await def.undo(input, fence.kind === 'applied' ? { applied: fence.result } : { key });
          const inTransaction = undo.undone ? mirror(undo) : undefined;
          if (fence.kind === 'tombstoned') {
            // No record was found: the tombstone is ours; the provider's answer says whether there was an effect to undo.
            if (!undo.undone) return 'tombstoned';
            await store.markCompensated({ scope, key, epoch: 0, status: 'compensated', ...(inTransaction && { inTransaction }) });
            return 'compensated-by-key';
          }
          const status = undo.undone ? 'compensated' : 'aborted';
          try {
            await store.markCompensated({ scope, key, epoch: fence.epoch, status, ...(inTransaction && { inTransaction }) });
          } catch (err) {
            // A newer compensation attempt fenced us; it records the same undo (the provider's undo is idempotent).
            if (!(err instanceof StaleEpochError)) throw err;
          }
          return status;
        });
      };
    },

    /**
     * The activity a saga calls last, at its terminal state: from then on its step records expire after
     * the scope's TTL and no late attempt may create one. Idempotent (the first close stands).
     */
    closeSaga(): StepActivity<typeof CloseSagaInput, { closed: boolean }> {
      return async (raw) => {
        const input = parseInput(CloseSagaInput, raw);
        if (input.sagaId !== ownSagaId()) {
          throw ApplicationFailure.nonRetryable(`saga ${JSON.stringify(input.sagaId)} is not this activity's workflow`, ActivityErrorType.ForeignKey);
        }
        return translated(() => store.closeSaga({ sagaId: input.sagaId, outcome: input.outcome, scope }));
      };
    },
  };
}
