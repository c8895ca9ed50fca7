// The idempotency store (DESIGN §3–§4): local effects exactly once, external effects under a
// fenced lease, compensation tombstones. Every effect in the project writes through it.
import type { Pool, PoolClient } from 'pg';
import { bothOrThrow, sendInOrder, withClient, withTransaction } from '../db/pool';
import {
  BusinessFailure,
  FingerprintMismatchError,
  InProgressError,
  InvalidInputError,
  KeyAbortedError,
  StaleEpochError,
} from '../errors';
import { IdempotencyCounters } from './counters';
import { canonicalJson, fingerprint } from './fingerprint';
import { validateKey, validateScope } from './keys';
import * as records from './records';
import type { IdempotencyRecord, StoredFailure } from './records';

export type StoreOptions = {
  defaultTtlSeconds: number;
  ttlSecondsByScope?: Record<string, number>;
  counters?: IdempotencyCounters;
};

export type Outcome<T> = { result: T; replayed: boolean };

export type KeyRef = { scope: string; key: string };

export type LeaseClaim<T> =
  | { kind: 'claimed'; epoch: number; attempt: number; takeover: boolean }
  | { kind: 'replayed'; result: T };

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

export type LocalCompensation = 'compensated' | 'tombstoned' | 'not-applied' | 'already-compensated' | 'already-aborted';

const DEFAULT_RETRY_AFTER_MS = 1000;

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

function validateEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new InvalidInputError('epoch', 'must be a positive integer');
  return epoch;
}

export class IdempotencyStore {
  readonly counters: IdempotencyCounters;
  private readonly defaultTtlSeconds: number;
  private readonly ttlSecondsByScope: Record<string, number>;

  constructor(
    private readonly pool: Pool,
    opts: StoreOptions,
  ) {
    this.counters = opts.counters ?? new IdempotencyCounters();
    this.defaultTtlSeconds = opts.defaultTtlSeconds;
    this.ttlSecondsByScope = opts.ttlSecondsByScope ?? {};
  }

  ttlSecondsFor(scope: string): number {
    return this.ttlSecondsByScope[scope] ?? this.defaultTtlSeconds;
  }

  /** The record as stored, for inspection and reconciliation. */
  async get(ref: KeyRef): Promise<IdempotencyRecord | undefined> {
    return records.selectRecord(this.pool, validateScope(ref.scope), validateKey(ref.key));
  }

  /**
   * Runs a local effect exactly once. The key record and the effect commit in one
   * transaction on one client; a duplicate gets the stored outcome and the effect does not
   * run. The effect reports a business failure by throwing BusinessFailure: it is stored
   * (the effect's own writes rolled back) and raised again for every duplicate.
   */
  async runOnce<T>(opts: {
    scope: string;
    key: string;
    request: unknown;
    effect: (client: PoolClient) => Promise<T>;
  }): Promise<Outcome<T>> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const fp = fingerprint(opts.request);
    const ttl = this.ttlSecondsFor(scope);

    // Fast path: a stored outcome answers with one primary-key read.
    const existing = await records.selectRecord(this.pool, scope, key);
    if (existing && !existing.expired) return this.answer<T>(scope, key, fp, existing);

    const first = await withClient(this.pool, (client) => this.executeClaimed(client, scope, key, fp, ttl, opts.effect));
    if (!(first instanceof BusinessFailure)) return first;
    const stored = await withTransaction(this.pool, (client) => this.storeFailure<T>(client, scope, key, fp, ttl, first));
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
    scope: string,
    key: string,
    fp: string,
    ttl: number,
    effect: (client: PoolClient) => Promise<T>,
  ): Promise<Outcome<T> | BusinessFailure> {
    // Invariant: the effect runs only inside the transaction BEGIN opened. BEGIN and the claim share a
    // round trip; should BEGIN fail (a cancel landing on it), the claim committed alone: delete it, throw.
    const [begin, claim] = await sendInOrder(
      client,
      () => client.query('BEGIN'),
      () => records.claimLocal(client, scope, key, fp, ttl),
    );
    if (begin.status === 'rejected') {
      // If the removal fails too, the stray claim answers in_progress (retryable) until it expires.
      if (claim.status === 'fulfilled' && claim.value) await records.deleteStrayClaim(this.pool, scope, key, fp).catch(() => false);
      throw begin.reason;
    }
    const [, claimed] = bothOrThrow([begin, claim]);
    if (!claimed) {
      // Someone committed this key since our read; the row is locked for us now. Nothing was written,
      // so the read and ROLLBACK go together.
      const [row] = bothOrThrow(
        await sendInOrder(
          client,
          () => records.selectRecord(client, scope, key),
          () => client.query('ROLLBACK'),
        ),
      );
      if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
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
        () => records.finishLocal(client, scope, key, { status: 'completed', resultJson }),
        () => client.query('COMMIT'),
      ),
    );
    if (commit.command !== 'COMMIT') {
      throw new Error(`idempotency record ${scope}/${key}: the transaction rolled back at COMMIT (${commit.command})`);
    }
    this.counters.inc('executions');
    return { result, replayed: false };
  }

  /** After the effect's transaction rolled back: record the failure, unless another caller recorded an outcome first. */
  private async storeFailure<T>(
    client: PoolClient,
    scope: string,
    key: string,
    fp: string,
    ttl: number,
    failure: BusinessFailure,
  ): Promise<Outcome<T> | BusinessFailure> {
    if (await records.insertFailure(client, scope, key, fp, failureJson(failure), ttl)) {
      this.counters.inc('executions');
      return failure;
    }
    const row = await records.selectRecord(client, scope, key);
    if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
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
        this.counters.inc('abortRefusals');
        throw new KeyAbortedError(scope, key);
      case 'in_progress':
        this.counters.inc('conflicts');
        throw new InProgressError(scope, key, row.leaseMsLeft || DEFAULT_RETRY_AFTER_MS);
      case 'completed':
      case 'failed':
        if (row.fingerprint !== fp) {
          this.counters.inc('mismatches');
          throw new FingerprintMismatchError(scope, key);
        }
        this.counters.inc('replays');
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
  async claimLease<T>(opts: {
    scope: string;
    key: string;
    request: unknown;
    owner: string;
    leaseMs: number;
  }): Promise<LeaseClaim<T>> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const owner = validateKey(opts.owner, 'owner');
    const leaseMs = validateLeaseMs(opts.leaseMs);
    const fp = fingerprint(opts.request);
    const ttl = this.ttlSecondsFor(scope);
    // Fast path, as in runOnce: a stored outcome is final, so one unlocked primary-key read answers
    // it without a transaction or the row lock every duplicate would otherwise queue on.
    const existing = await records.selectRecord(this.pool, scope, key);
    if (existing && !existing.expired && (existing.status === 'completed' || existing.status === 'failed')) {
      return { kind: 'replayed', result: this.answer<T>(scope, key, fp, existing).result } as const;
    }
    return withTransaction(this.pool, async (client) => {
      if (await records.insertLease(client, scope, key, fp, owner, leaseMs, ttl)) {
        const row = await records.selectRecord(client, scope, key);
        this.counters.inc('executions');
        return { kind: 'claimed', epoch: row?.epoch ?? 1, attempt: row?.attempts ?? 1, takeover: false } as const;
      }
      const row = await records.selectRecord(client, scope, key);
      if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
      if (row.status === 'in_progress' && row.fingerprint !== fp) {
        this.counters.inc('mismatches');
        throw new FingerprintMismatchError(scope, key);
      }
      if (row.status === 'in_progress' && row.leaseMsLeft === 0) {
        const epoch = await records.bumpEpoch(client, scope, key, owner, leaseMs);
        this.counters.inc('leaseTakeovers');
        return { kind: 'claimed', epoch, attempt: row.attempts + 1, takeover: true } as const;
      }
      const replay = this.answer<T>(scope, key, fp, row);
      return { kind: 'replayed', result: replay.result } as const;
    });
  }

  /** Extends the lease while the provider call runs; StaleEpochError when a newer attempt took over. */
  async heartbeatLease(opts: KeyRef & { epoch: number; leaseMs: number }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    if (!(await records.extendLease(this.pool, scope, key, epoch, validateLeaseMs(opts.leaseMs)))) {
      throw this.fenced(scope, key, epoch);
    }
  }

  /** Stores the provider's definitive success, only by the current epoch. */
  async completeLease(opts: KeyRef & { epoch: number; result: unknown }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    const resultJson = canonicalJson(opts.result, 'result');
    if (!(await records.finishLease(this.pool, scope, key, epoch, { status: 'completed', resultJson }))) {
      throw this.fenced(scope, key, epoch);
    }
  }

  /** Stores the provider's definitive business failure, only by the current epoch. */
  async failLease(opts: KeyRef & { epoch: number; failure: BusinessFailure }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    const errorJson = failureJson(opts.failure);
    if (!(await records.finishLease(this.pool, scope, key, epoch, { status: 'failed', errorJson }))) {
      throw this.fenced(scope, key, epoch);
    }
  }

  /** The provider's answer was ambiguous: keep the key in progress but let the next attempt take over now. */
  async releaseLease(opts: KeyRef & { epoch: number }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    if (!(await records.releaseLease(this.pool, scope, key, epoch))) throw this.fenced(scope, key, epoch);
  }

  // ---- Compensation ----------------------------------------------------------------------

  /**
   * Compensates a local effect in one transaction: an applied forward record is undone (by
   * `undo`, on the same client) and marked compensated; an absent one gets the `aborted`
   * tombstone. Calling it again changes nothing.
   */
  async compensateLocal<T>(opts: {
    scope: string;
    key: string;
    undo: (client: PoolClient, forwardResult: T) => Promise<void>;
  }): Promise<LocalCompensation> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const ttl = this.ttlSecondsFor(scope);
    return withTransaction(this.pool, async (client): Promise<LocalCompensation> => {
      if (await records.insertTombstone(client, scope, key, ttl)) return 'tombstoned';
      const row = await records.selectRecord(client, scope, key, 'for update');
      if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
      switch (row.status) {
        case 'completed':
          await opts.undo(client, row.result as T);
          await records.markUndone(client, scope, key, 'compensated');
          return 'compensated';
        case 'failed':
          return 'not-applied';
        case 'compensated':
          return 'already-compensated';
        case 'aborted':
          return 'already-aborted';
        case 'in_progress':
          this.counters.inc('conflicts');
          throw new InProgressError(scope, key, row.leaseMsLeft || DEFAULT_RETRY_AFTER_MS);
      }
    });
  }

  /**
   * First half of compensating an external effect: decides what there is to undo and fences
   * any forward attempt still out there by taking a new epoch. A live forward lease is
   * InProgressError: the compensation waits it out.
   */
  async fenceForCompensation<T>(opts: { scope: string; key: string; owner: string; leaseMs: number }): Promise<CompensationFence<T>> {
    const scope = validateScope(opts.scope);
    const key = validateKey(opts.key);
    const owner = validateKey(opts.owner, 'owner');
    const leaseMs = validateLeaseMs(opts.leaseMs);
    const ttl = this.ttlSecondsFor(scope);
    return withTransaction(this.pool, async (client): Promise<CompensationFence<T>> => {
      if (await records.insertTombstone(client, scope, key, ttl)) return { kind: 'tombstoned' };
      const row = await records.selectRecord(client, scope, key, 'for update');
      if (!row) throw new Error(`idempotency record ${scope}/${key} vanished while locked`);
      switch (row.status) {
        case 'aborted':
        case 'compensated':
          return { kind: 'done', status: row.status };
        case 'failed':
          return { kind: 'not-applied' };
        case 'completed': {
          const epoch = await records.bumpEpoch(client, scope, key, owner, leaseMs);
          return { kind: 'applied', epoch, result: row.result as T };
        }
        case 'in_progress': {
          if (row.leaseMsLeft > 0 && row.leaseOwner !== owner) {
            this.counters.inc('conflicts');
            throw new InProgressError(scope, key, row.leaseMsLeft);
          }
          const epoch = await records.bumpEpoch(client, scope, key, owner, leaseMs);
          this.counters.inc('leaseTakeovers');
          return { kind: 'uncertain', epoch };
        }
      }
    });
  }

  /** Second half: records that the external effect was undone (`compensated`) or never applied (`aborted`). */
  async markCompensated(opts: KeyRef & { epoch: number; status: 'compensated' | 'aborted' }): Promise<void> {
    const { scope, key, epoch } = this.validRef(opts);
    if (!(await records.markUndone(this.pool, scope, key, opts.status, epoch))) throw this.fenced(scope, key, epoch);
  }

  // ---- Expiry ----------------------------------------------------------------------------

  /** Deletes expired records in batches of `batchSize` until none is left (or `maxBatches`). */
  async cleanupExpired(opts: { batchSize: number; maxBatches?: number; onBatch?: (deleted: number) => void }): Promise<{
    deleted: number;
    batches: number;
  }> {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new InvalidInputError('batchSize', 'must be a positive integer');
    }
    let deleted = 0;
    let batches = 0;
    while (opts.maxBatches === undefined || batches < opts.maxBatches) {
      const n = await records.deleteExpiredBatch(this.pool, opts.batchSize);
      if (n === 0) break;
      batches += 1;
      deleted += n;
      opts.onBatch?.(n);
      if (n < opts.batchSize) break;
    }
    return { deleted, batches };
  }

  // ---- helpers ---------------------------------------------------------------------------

  private validRef(opts: KeyRef & { epoch: number }): { scope: string; key: string; epoch: number } {
    return { scope: validateScope(opts.scope), key: validateKey(opts.key), epoch: validateEpoch(opts.epoch) };
  }

  private fenced(scope: string, key: string, epoch: number): StaleEpochError {
    this.counters.inc('fencedWrites');
    return new StaleEpochError(scope, key, epoch);
  }
}
