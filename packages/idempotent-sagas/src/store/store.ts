// The idempotency store (DESIGN §3–§4): local effects exactly once, external effects under a
// fenced lease, compensation tombstones. Every effect in the project writes through it.
import type { Pool, PoolClient } from 'pg';
import { bothOrThrow, sendInOrder, withClient, withTransaction } from './pg';
import {
  BusinessFailure,
  EffectWithoutKeyError,
  FingerprintMismatchError,
  InProgressError,
  InvalidInputError,
  KeyAbortedError,
  SagaClosedError,
  StaleEpochError,
} from '../errors';
import { IdempotencyCounters } from './counters';
import { canonicalJson, fingerprint } from './fingerprint';
import { validateKey, validateScope } from '../keys';
import { recordStatements, type IdempotencyRecord, type Queryable, type RecordStatements, type StoredFailure } from './records';

/** How long records are kept, where the counters go, and the schema of the store's tables. */
export type StoreOptions = {
  defaultTtlSeconds: number;
  ttlSecondsByScope?: Record<string, number>;
  counters?: IdempotencyCounters;
  /** The schema the store's migrations ran in (`migrate(pool, { schema })`). Default `public`. */
  schema?: string;
};

/** What runOnce answers: the result, and whether it was replayed from the record. */
export type Outcome<T> = { result: T; replayed: boolean };

/** A record's address: its scope and key. */
export type KeyRef = { scope: string; key: string };

/**
 * The saga a step record belongs to. Its records never expire while it is open; their retention
 * starts at closeSaga. Omit it for records with a life of their own (HTTP requests).
 */
export type SagaRef = { sagaId?: string };

/** Work done in the same transaction as a record update, so the two commit or roll back together. */
export type InTransaction = (client: PoolClient) => Promise<void>;

/** What claimLease answers: the claim (epoch, attempt, generation) or the stored outcome to replay. */
export type LeaseClaim<T> =
  /** `generation` names this record's life: the same across takeovers, new once the record expired and was reset. */
  { kind: 'claimed'; epoch: number; attempt: number; takeover: boolean; generation: string } | { kind: 'replayed'; result: T };

/** What fenceForCompensation found to undo, with the epoch that fences any forward attempt still out there. */
export type CompensationFence<T> =
  /** No forward record existed: the tombstone now refuses any late forward attempt. */
  | { kind: 'tombstoned' }
  /** The forward effect applied; undo it, then call markCompensated with this epoch. */
  | { kind: 'applied'; epoch: number; result: T }
  /** A forward attempt's outcome is unknown (its lease ran out); undo by key at the provider, then mark. */
  | { kind: 'uncertain'; epoch: number }
  /** The forward step failed definitively: there is nothing to undo. */
  | { kind: 'not-applied' }
  /** A previous compensation already finished. */
  | { kind: 'done'; status: 'compensated' | 'aborted' };

/** How a compensation of a local step ended. */
export type LocalCompensation =
  | 'compensated'
  /** No record: the tombstone was written, and undoing by natural key found the effect applied and undid it. */
  | 'compensated-by-natural-key'
  | 'tombstoned'
  | 'not-applied'
  | 'already-compensated'
  | 'already-aborted';

/** What one cleanupExpired call deleted, and what it left because it is in progress or belongs to an open saga. */
export type CleanupReport = {
  /** Records deleted: expired records of no saga, plus records of sagas closed longer ago than their retention. */
  deleted: number;
  expiredDeleted: number;
  sagaRecordsDeleted: number;
  /** Rows of closed sagas deleted once all their records were gone. */
  sagasDeleted: number;
  batches: number;
  /** What was kept: records in progress past their clock, and records of sagas still open (no clock yet). */
  skipped: { inProgress: number; openSagaRecords: number };
};

const DEFAULT_RETRY_AFTER_MS = 1000;

type LocalClaim = { scope: string; key: string; fp: string; ttl: number; sagaId: string | null };

/** Key last found a record (or a closed saga) and committed nothing: the claimed path answers instead. */
const KEY_TAKEN = Symbol('key taken');

/**
 * Errors after which key last yields to the claimed path: the key already there (unique_violation), a closed
 * saga (not_null_violation, by the insert's design), or a deadlock or serialization failure against a
 * claimed duplicate (which takes the key first and the effect's locks second, the reverse of key last).
 */
function yieldsToRecord(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === '23502' || code === '40P01' || code === '40001';
}

function failureJson(f: BusinessFailure): string {
  const stored: StoredFailure = { type: f.type, message: f.message, details: f.details };
  return canonicalJson(stored, 'failure');
}

function replayFailure(stored: StoredFailure | null): BusinessFailure {
  return new BusinessFailure(stored?.type ?? 'UNKNOWN_FAILURE', stored?.message ?? '', stored?.details ?? {}, true);
}

function validateLeaseMs(leaseMs: number): number {
  if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > 86_400_000) {
    throw new InvalidInputError('leaseMs', 'must be an integer between 1 and 86400000');
  }
  return leaseMs;
}

function validateSagaId(sagaId: string | undefined): string | null {
  return sagaId === undefined ? null : validateKey(sagaId, 'sagaId');
}

function validateEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new InvalidInputError('epoch', 'must be a positive integer');
  return epoch;
}

/** The Postgres idempotency store: every effect of a saga step (and every HTTP request) applies through one of its records, at most once. */
export class IdempotencyStore {
  readonly counters: IdempotencyCounters;
  private readonly defaultTtlSeconds: number;
  private readonly ttlSecondsByScope: Record<string, number>;
  private readonly records: RecordStatements;

  constructor(
    /** The pool the store writes through (callers re-apply their mirrors on it). */
    readonly pool: Pool,
    opts: StoreOptions,
  ) {
    this.counters = opts.counters ?? new IdempotencyCounters();
    this.defaultTtlSeconds = opts.defaultTtlSeconds;
    this.ttlSecondsByScope = opts.ttlSecondsByScope ?? {};
    this.records = recordStatements(opts.schema);
  }

  ttlSecondsFor(scope: string): number {
    return this.ttlSecondsByScope[scope] ?? this.defaultTtlSeconds;
  }

  /** The record as stored, for inspection and reconciliation. */
  async get(ref: KeyRef): Promise<IdempotencyRecord | undefined> {
    return this.records.selectRecord(this.pool, validateScope(ref.scope), validateKey(ref.key));
  }

  /**
   * Runs a local effect exactly once. The key record and the effect commit in one
   * transaction on one client; a duplicate gets the stored outcome and its effect never
   * commits. The effect reports a business failure by throwing BusinessFailure: it is stored
   * (the effect's own writes rolled back) and raised again for every duplicate.
   */
  async runOnce<T>(
    opts: SagaRef & {
      scope: string;
      key: string;
      request: unknown;
      effect: (client: PoolClient) => Promise<T>;
      /**
       * The caller expects a new key (a step's first attempt): no fast-path read and no claim first; the effect
       * runs at once and its key is inserted once, completed, at the end of its transaction (key last). A key
       * found there then fails that insert, the effect's writes roll back and the stored record answers, so the
       * effect function may run for a duplicate while its writes still commit once. Default false: the key is
       * claimed before the effect runs and a concurrent duplicate waits on it without running its effect.
       */
      expectNew?: boolean;
    },
  ): Promise<Outcome<T>> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const sagaId = validateSagaId(opts.sagaId);
    const fp = fingerprint(opts.request);
    const ttl = this.ttlSecondsFor(scope);

    // Fast path: a stored outcome answers with one primary-key read (skipped when a new key is expected).
    if (!opts.expectNew) {
      const existing = await this.records.selectRecord(this.pool, scope, key);
      if (existing && !existing.expired) return this.answer<T>(scope, key, fp, existing);
    }

    const claim = { scope, key, fp, ttl, sagaId };
    let first = opts.expectNew ? await withClient(this.pool, (client) => this.executeKeyLast(client, claim, opts.effect)) : KEY_TAKEN;
    if (first === KEY_TAKEN) first = await withClient(this.pool, (client) => this.executeClaimed(client, claim, opts.effect));
    if (!(first instanceof BusinessFailure)) return first;
    const stored = await withTransaction(this.pool, (client) => this.storeFailure<T>(client, claim, first));
    if (stored instanceof BusinessFailure) throw stored;
    return stored;
  }

  /**
   * One transaction, opened and ended here: claim, run, store, commit. Returns the BusinessFailure
   * (its writes rolled back) instead of throwing it so the caller can record it. Any throw leaves
   * the transaction to withClient's ROLLBACK. Statement pairs share a round trip on a pipelined client.
   */
  private async executeClaimed<T>(
    client: PoolClient,
    { scope, key, fp, ttl, sagaId }: LocalClaim,
    effect: (client: PoolClient) => Promise<T>,
  ): Promise<Outcome<T> | BusinessFailure> {
    // Invariant: the effect runs only inside the transaction BEGIN opened. BEGIN and the claim share a
    // round trip; should BEGIN fail (a cancel landing on it), the claim committed alone: delete it, throw.
    const [begin, claim] = await sendInOrder(
      client,
      () => client.query('BEGIN'),
      () => this.records.claimLocal(client, scope, key, fp, ttl, sagaId),
    );
    if (begin.status === 'rejected') {
      // If the removal fails too, the stray claim answers in_progress (retryable) until it expires.
      if (claim.status === 'fulfilled' && claim.value) await this.records.deleteStrayClaim(this.pool, scope, key, fp).catch(() => false);
      throw begin.reason;
    }
    const [, claimed] = bothOrThrow([begin, claim]);
    if (!claimed) {
      // Someone committed this key since our read; the row is locked for us now. Nothing was written,
      // so the read and ROLLBACK go together.
      const [row] = bothOrThrow(
        await sendInOrder(
          client,
          () => this.records.selectRecord(client, scope, key),
          () => client.query('ROLLBACK'),
        ),
      );
      if (!row) throw this.missing(scope, key, sagaId);
      return this.answer<T>(scope, key, fp, row);
    }
    let result: T;
    try {
      result = await effect(client);
    } catch (err) {
      if (!(err instanceof BusinessFailure)) throw err;
      // A business failure must not keep the effect's partial writes: roll them back, then record it.
      await client.query('ROLLBACK');
      return err;
    }
    const resultJson = canonicalJson(result, 'result');
    // Invariant: COMMIT, sent blind behind the outcome, commits only if the UPDATE succeeded; after a
    // failed UPDATE it ends the aborted transaction (answering ROLLBACK) and the UPDATE's error is thrown.
    const [, commit] = bothOrThrow(
      await sendInOrder(
        client,
        () => this.records.finishLocal(client, scope, key, { status: 'completed', resultJson }),
        () => client.query('COMMIT'),
      ),
    );
    if (commit.command !== 'COMMIT') {
      throw new Error(`idempotency record ${scope}/${key}: the transaction rolled back at COMMIT (${commit.command})`);
    }
    this.counters.inc('executions', scope);
    return { result, replayed: false };
  }

  /**
   * Key last (DESIGN-NOTES, "A first attempt writes its key last"): BEGIN, the effect, then the key inserted
   * completed with COMMIT sent behind it. Returns KEY_TAKEN, with nothing committed, when a record was there
   * (or a closed saga refused the key): the claimed path then answers from it, resets it if expired, or refuses.
   */
  private async executeKeyLast<T>(
    client: PoolClient,
    { scope, key, fp, ttl, sagaId }: LocalClaim,
    effect: (client: PoolClient) => Promise<T>,
  ): Promise<Outcome<T> | BusinessFailure | typeof KEY_TAKEN> {
    // Invariant: the effect runs only inside the transaction BEGIN opened, so BEGIN is awaited, never sent with it.
    await client.query('BEGIN');
    let result: T;
    try {
      result = await effect(client);
    } catch (err) {
      const rollbackError = await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => e ?? new Error('ROLLBACK failed'),
      );
      // A business failure whose writes did not roll back is neither answered nor stored: the retryable ROLLBACK error is.
      if (rollbackError !== undefined) throw err instanceof BusinessFailure ? rollbackError : err;
      if (err instanceof BusinessFailure) return err;
      // A duplicate that committed first can fail this effect (its natural keys): then its record answers.
      if (await this.records.selectRecord(client, scope, key)) return KEY_TAKEN;
      throw err;
    }
    const resultJson = canonicalJson(result, 'result');
    // Invariant: the insert fails on a key already there or a closed saga, so the COMMIT behind it then rolls back.
    const [insert, commit] = await sendInOrder(
      client,
      () => this.records.insertCompleted(client, scope, key, fp, resultJson, ttl, sagaId),
      () => client.query('COMMIT'),
    );
    if (insert.status === 'rejected') {
      // Refused by the client before the server saw it, the insert left the COMMIT behind it to commit the effect alone.
      if (commit.status === 'fulfilled' && commit.value.command === 'COMMIT') throw new EffectWithoutKeyError(scope, key, insert.reason);
      if (!(commit.status === 'fulfilled' && commit.value.command === 'ROLLBACK')) await client.query('ROLLBACK');
      if (yieldsToRecord(insert.reason)) return KEY_TAKEN;
      throw insert.reason;
    }
    if (commit.status === 'rejected') {
      // A deferred natural key or a serialization failure at COMMIT: a duplicate's record, if there is one, answers.
      if (yieldsToRecord(commit.reason) && (await this.records.selectRecord(client, scope, key))) return KEY_TAKEN;
      throw commit.reason;
    }
    if (commit.value.command !== 'COMMIT') {
      throw new Error(`idempotency record ${scope}/${key}: the transaction rolled back at COMMIT (${commit.value.command})`);
    }
    this.counters.inc('executions', scope);
    return { result, replayed: false };
  }

  /** After the effect's transaction rolled back: record the failure, unless another caller recorded an outcome first. */
  private async storeFailure<T>(
    client: PoolClient,
    { scope, key, fp, ttl, sagaId }: LocalClaim,
    failure: BusinessFailure,
  ): Promise<Outcome<T> | BusinessFailure> {
    if (await this.records.insertFailure(client, scope, key, fp, failureJson(failure), ttl, sagaId)) {
      this.counters.inc('executions', scope);
      return failure;
    }
    const row = await this.records.selectRecord(client, scope, key);
    if (!row) throw this.missing(scope, key, sagaId);
    try {
      return this.answer<T>(scope, key, fp, row);
    } catch (err) {
      if (err instanceof BusinessFailure) return err;
      throw err;
    }
  }

  /** Answers a duplicate from a live stored record: the outcome, or the typed refusal. */
  private answer<T>(scope: string, key: string, fp: string, row: IdempotencyRecord): Outcome<T> {
    switch (row.status) {
      case 'aborted':
      case 'compensated':
        this.counters.inc('abortRefusals', scope);
        throw new KeyAbortedError(scope, key);
      case 'in_progress':
        this.counters.inc('conflicts', scope);
        throw new InProgressError(scope, key, row.leaseMsLeft || DEFAULT_RETRY_AFTER_MS);
      case 'completed':
      case 'failed':
        if (row.fingerprint !== fp) {
          this.counters.inc('mismatches', scope);
          throw new FingerprintMismatchError(scope, key);
        }
        this.counters.inc('replays', scope);
        if (row.status === 'failed') throw replayFailure(row.error);
        return { result: row.result as T, replayed: true };
    }
  }

  // ---- External effects: a fenced lease -------------------------------------------------

  /**
   * Claims an external effect. A new key gets epoch 1; a key whose lease ran out is taken
   * over with a new epoch (fencing the old holder). A live lease is InProgressError with
   * the time left; a stored outcome is replayed; a tombstone is KeyAbortedError.
   */
  async claimLease<T>(
    opts: SagaRef & {
      scope: string;
      key: string;
      request: unknown;
      owner: string;
      leaseMs: number;
    },
  ): Promise<LeaseClaim<T>> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const sagaId = validateSagaId(opts.sagaId);
    const owner = validateKey(opts.owner, 'owner');
    const leaseMs = validateLeaseMs(opts.leaseMs);
    const fp = fingerprint(opts.request);
    const ttl = this.ttlSecondsFor(scope);
    // Fast path, as in runOnce: a stored outcome is final, so one unlocked primary-key read answers
    // it without a transaction or the row lock every duplicate would otherwise queue on.
    const existing = await this.records.selectRecord(this.pool, scope, key);
    if (existing && !existing.expired && (existing.status === 'completed' || existing.status === 'failed')) {
      return { kind: 'replayed', result: this.answer<T>(scope, key, fp, existing).result } as const;
    }
    return withTransaction(this.pool, async (client) => {
      if (await this.records.insertLease(client, scope, key, fp, owner, leaseMs, ttl, sagaId)) {
        const row = await this.records.selectRecord(client, scope, key);
        if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
        this.counters.inc('executions', scope);
        return { kind: 'claimed', epoch: row.epoch, attempt: row.attempts, takeover: false, generation: row.generation } as const;
      }
      const row = await this.records.selectRecord(client, scope, key);
      if (!row) throw this.missing(scope, key, sagaId);
      if (row.status === 'in_progress' && row.fingerprint !== fp) {
        this.counters.inc('mismatches', scope);
        throw new FingerprintMismatchError(scope, key);
      }
      if (row.status === 'in_progress' && row.leaseMsLeft === 0) {
        const epoch = await this.records.bumpEpoch(client, scope, key, owner, leaseMs);
        this.counters.inc('leaseTakeovers', scope);
        return { kind: 'claimed', epoch, attempt: row.attempts + 1, takeover: true, generation: row.generation } as const;
      }
      const replay = this.answer<T>(scope, key, fp, row);
      return { kind: 'replayed', result: replay.result } as const;
    });
  }

  /** Extends the lease while the provider call runs; StaleEpochError when a newer attempt took over. */
  async heartbeatLease(opts: KeyRef & { epoch: number; leaseMs: number }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    if (!(await this.records.extendLease(this.pool, scope, key, epoch, validateLeaseMs(opts.leaseMs)))) {
      throw this.fenced(scope, key, epoch);
    }
  }

  /**
   * Stores the provider's definitive success, only by the current epoch. `inTransaction` (a
   * mirror of the outcome in the caller's own tables) commits with it, or not at all.
   */
  async completeLease(opts: KeyRef & { epoch: number; result: unknown; inTransaction?: InTransaction }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    const resultJson = canonicalJson(opts.result, 'result');
    await this.fencedWrite(scope, key, epoch, (db) => this.records.finishLease(db, scope, key, epoch, { status: 'completed', resultJson }), opts.inTransaction);
  }

  /** Stores the provider's definitive business failure, only by the current epoch. */
  async failLease(opts: KeyRef & { epoch: number; failure: BusinessFailure; inTransaction?: InTransaction }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    const errorJson = failureJson(opts.failure);
    await this.fencedWrite(scope, key, epoch, (db) => this.records.finishLease(db, scope, key, epoch, { status: 'failed', errorJson }), opts.inTransaction);
  }

  /** The provider's answer was ambiguous: keep the key in progress but let the next attempt take over now. */
  async releaseLease(opts: KeyRef & { epoch: number }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    if (!(await this.records.releaseLease(this.pool, scope, key, epoch))) throw this.fenced(scope, key, epoch);
  }

  // ---- Compensation ----------------------------------------------------------------------

  /**
   * Compensates a local effect in one transaction: an applied forward record is undone (by
   * `undo`, on the same client) and marked compensated. An absent one gets the `aborted`
   * tombstone, and is still undone by natural key (`undoByNaturalKey`, which says whether it found
   * the effect applied): a missing record never reads as "nothing to undo". Calling it again
   * changes nothing.
   */
  async compensateLocal<T>(
    opts: SagaRef & {
      scope: string;
      key: string;
      undo: (client: PoolClient, forwardResult: T) => Promise<void>;
      undoByNaturalKey: (client: PoolClient) => Promise<boolean>;
    },
  ): Promise<LocalCompensation> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const sagaId = validateSagaId(opts.sagaId);
    const ttl = this.ttlSecondsFor(scope);
    return withTransaction(this.pool, async (client): Promise<LocalCompensation> => {
      if (await this.records.insertTombstone(client, scope, key, ttl, sagaId)) {
        if (!(await opts.undoByNaturalKey(client))) return 'tombstoned';
        await this.records.markUndone(client, scope, key, 'compensated');
        return 'compensated-by-natural-key';
      }
      const row = await this.records.selectRecord(client, scope, key, 'for update');
      if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
      switch (row.status) {
        case 'completed':
          await opts.undo(client, row.result as T);
          await this.records.markUndone(client, scope, key, 'compensated');
          return 'compensated';
        case 'failed':
          return 'not-applied';
        case 'compensated':
          return 'already-compensated';
        case 'aborted':
          return 'already-aborted';
        case 'in_progress':
          this.counters.inc('conflicts', scope);
          throw new InProgressError(scope, key, row.leaseMsLeft || DEFAULT_RETRY_AFTER_MS);
      }
    });
  }

  /**
   * First half of compensating an external effect: decides what there is to undo and fences
   * any forward attempt still out there by taking a new epoch. A live forward lease is
   * InProgressError: the compensation waits it out.
   */
  async fenceForCompensation<T>(opts: SagaRef & { scope: string; key: string; owner: string; leaseMs: number }): Promise<CompensationFence<T>> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const sagaId = validateSagaId(opts.sagaId);
    const owner = validateKey(opts.owner, 'owner');
    const leaseMs = validateLeaseMs(opts.leaseMs);
    const ttl = this.ttlSecondsFor(scope);
    return withTransaction(this.pool, async (client): Promise<CompensationFence<T>> => {
      if (await this.records.insertTombstone(client, scope, key, ttl, sagaId)) return { kind: 'tombstoned' };
      const row = await this.records.selectRecord(client, scope, key, 'for update');
      if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
      switch (row.status) {
        case 'aborted':
        case 'compensated':
          return { kind: 'done', status: row.status };
        case 'failed':
          return { kind: 'not-applied' };
        case 'completed': {
          const epoch = await this.records.bumpEpoch(client, scope, key, owner, leaseMs);
          return { kind: 'applied', epoch, result: row.result as T };
        }
        case 'in_progress': {
          if (row.leaseMsLeft > 0 && row.leaseOwner !== owner) {
            this.counters.inc('conflicts', scope);
            throw new InProgressError(scope, key, row.leaseMsLeft);
          }
          const epoch = await this.records.bumpEpoch(client, scope, key, owner, leaseMs);
          this.counters.inc('leaseTakeovers', scope);
          return { kind: 'uncertain', epoch };
        }
      }
    });
  }

  /**
   * Second half: records that the external effect was undone (`compensated`) or never applied
   * (`aborted`), by the fence's epoch; `inTransaction` commits with it. After a `tombstoned` fence
   * (no record, epoch 0) it upgrades the tombstone to `compensated` when the provider did undo something.
   */
  async markCompensated(opts: KeyRef & { epoch: number; status: 'compensated' | 'aborted'; inTransaction?: InTransaction }): Promise<void> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const epoch = opts.epoch;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new InvalidInputError('epoch', 'must be a non-negative integer');
    await this.fencedWrite(scope, key, epoch, (db) => this.records.markUndone(db, scope, key, opts.status, epoch), opts.inTransaction);
  }

  // ---- Saga life -------------------------------------------------------------------------

  /**
   * The saga reached a terminal state: the retention clock of its records starts now, counted in
   * `scope`'s TTL, and no new record is created for it. Idempotent: the first close stands.
   */
  async closeSaga(opts: { sagaId: string; outcome: string; scope: string }): Promise<{ closed: boolean }> {
    const sagaId = validateKey(opts.sagaId, 'sagaId');
    if (!/^[A-Z][A-Z_]{0,63}$/.test(opts.outcome)) throw new InvalidInputError('outcome', 'must be an upper-case word such as COMPLETED');
    const ttl = this.ttlSecondsFor(validateScope(opts.scope));
    return { closed: await this.records.insertSagaClosed(this.pool, sagaId, opts.outcome, ttl) };
  }

  // ---- Expiry ----------------------------------------------------------------------------

  /**
   * Deletes, in batches of `batchSize` (until none is left, or `maxBatches` per kind): expired
   * records of no saga, then records of sagas closed longer ago than their retention, then those
   * sagas' rows. Never a record in progress, never a record of an open saga; the report counts both.
   */
  async cleanupExpired(opts: { batchSize: number; maxBatches?: number; onBatch?: (deleted: number) => void }): Promise<CleanupReport> {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new InvalidInputError('batchSize', 'must be a positive integer');
    }
    let batches = 0;
    const drain = async (deleteBatch: (db: Pool, limit: number) => Promise<number>, report: boolean): Promise<number> => {
      let deleted = 0;
      for (let n = 0; opts.maxBatches === undefined || n < opts.maxBatches; n++) {
        const d = await deleteBatch(this.pool, opts.batchSize);
        if (d === 0) break;
        deleted += d;
        if (report) {
          batches += 1;
          opts.onBatch?.(d);
        }
        if (d < opts.batchSize) break;
      }
      return deleted;
    };
    const expiredDeleted = await drain(this.records.deleteExpiredBatch, true);
    const sagaRecordsDeleted = await drain(this.records.deleteClosedSagaRecordsBatch, true);
    const sagasDeleted = await drain(this.records.deleteFinishedSagasBatch, false);
    const skipped = await this.records.countRetained(this.pool);
    return { deleted: expiredDeleted + sagaRecordsDeleted, expiredDeleted, sagaRecordsDeleted, sagasDeleted, batches, skipped };
  }

  // ---- helpers ---------------------------------------------------------------------------

  private validRef(opts: KeyRef & { epoch: number }): { scope: string; key: string; epoch: number } {
    return { scope: validateScope(opts.scope), key: validateKey(opts.key), epoch: validateEpoch(opts.epoch) };
  }

  /** A fenced write, alone or in one transaction with the caller's `inTransaction`. */
  private async fencedWrite(
    scope: string,
    key: string,
    epoch: number,
    write: (db: Queryable) => Promise<boolean>,
    inTransaction: InTransaction | undefined,
  ): Promise<void> {
    if (!inTransaction) {
      if (!(await write(this.pool))) throw this.fenced(scope, key, epoch);
      return;
    }
    await withTransaction(this.pool, async (client) => {
      if (!(await write(client))) throw this.fenced(scope, key, epoch);
      await inTransaction(client);
    });
  }

  /** No row after a claim found none to take: the saga has closed (or, without a saga, a concurrent delete). */
  private missing(scope: string, key: string, sagaId: string | null): Error {
    if (sagaId !== null) {
      this.counters.inc('sagaClosedRefusals', scope);
      return new SagaClosedError(sagaId, key);
    }
    return new Error(`idempotency record ${scope}/${key} vanished while locked`);
  }

  private fenced(scope: string, key: string, epoch: number): StaleEpochError {
    this.counters.inc('fencedWrites', scope);
    return new StaleEpochError(scope, key, epoch);
  }
}
