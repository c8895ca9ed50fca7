// A tour of the idempotency store: duplicates, a reused key, a tombstone, a stored failure and a lease
// takeover, each counted in a table of effects of the tour's own.
import type { Pool, PoolClient } from 'pg';
import { BusinessFailure, type IdempotencyStore, TypedError } from 'idempotent-sagas/store';

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof TypedError) return err.type;
    throw err;
  }
}

/** Runs the tour on `pool` through `store`; what happened, and whether every effect applied as often as it should. */
export async function storeTour(pool: Pool, store: IdempotencyStore): Promise<Record<string, unknown> & { invariantsHeld: boolean }> {
  await pool.query('CREATE TABLE IF NOT EXISTS demo_effects (id serial PRIMARY KEY, run text NOT NULL, tag text NOT NULL)');
  const run = `demo-${Date.now()}`;
  const effect = (tag: string) => async (client: PoolClient) => {
    const { rows } = await client.query<{ id: number }>('INSERT INTO demo_effects (run, tag) VALUES ($1, $2) RETURNING id', [run, tag]);
    return { effectId: rows[0]?.id ?? 0 };
  };
  const count = async (tag: string): Promise<number> => {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM demo_effects WHERE run = $1 AND tag = $2', [run, tag]);
    return Number(rows[0]?.n);
  };

  const dupKey = `${run}/charge`;
  await Promise.all(Array.from({ length: 50 }, () => store.runOnce({ scope: 'demo', key: dupKey, request: { amount: 100 }, effect: effect('dup') })));
  const mismatch = await refusal(store.runOnce({ scope: 'demo', key: dupKey, request: { amount: 999 }, effect: effect('dup') }));

  const tombKey = `${run}/reserve`;
  await store.compensateLocal({ scope: 'demo', key: tombKey, undo: async () => {}, undoByNaturalKey: async () => false });
  const late = await refusal(store.runOnce({ scope: 'demo', key: tombKey, request: {}, effect: effect('late') }));

  const failKey = `${run}/declined`;
  const decline = async (): Promise<never> => {
    throw new BusinessFailure('CARD_DECLINED', 'insufficient funds');
  };
  const failures = await Promise.all([1, 2, 3].map(() => refusal(store.runOnce({ scope: 'demo', key: failKey, request: {}, effect: decline }))));

  const leaseKey = `${run}/gateway`;
  const a = await store.claimLease({ scope: 'demo', key: leaseKey, request: {}, owner: 'worker-a', leaseMs: 50 });
  await new Promise((r) => setTimeout(r, 100));
  const b = await store.claimLease({ scope: 'demo', key: leaseKey, request: {}, owner: 'worker-b', leaseMs: 5000 });
  if (a.kind !== 'claimed' || b.kind !== 'claimed') throw new Error('lease claims did not go as expected');
  await store.completeLease({ scope: 'demo', key: leaseKey, epoch: b.epoch, result: { chargeId: 'ch_b' } });
  const stale = await refusal(store.completeLease({ scope: 'demo', key: leaseKey, epoch: a.epoch, result: { chargeId: 'ch_a' } }));

  const summary = {
    duplicateCalls: 50,
    duplicateEffects: await count('dup'),
    mismatch,
    lateForwardAfterTombstone: late,
    lateForwardEffects: await count('late'),
    storedFailureReplays: failures,
    staleLeaseWrite: stale,
    counters: store.counters.snapshot(),
  };
  const ok = summary.duplicateEffects === 1 && summary.lateForwardEffects === 0 && stale === 'IDEMPOTENCY_STALE_EPOCH';
  return { ...summary, invariantsHeld: ok };
}
