// Retention from the saga's life (DESIGN §10), on the store alone, with a 1 s TTL: records of an open
// saga never expire and are never deleted; the clock starts at closeSaga; cleanup never deletes a
// record in progress and reports what it kept. Every case counts rows.
import type { PoolClient } from 'pg';
import { deletionWitness, installDeletionWitness, takeoverWitness } from '../../src/chaos/deletion-witness';
import { checkInvariants } from '../../apps/orders/domain/invariants';
import { SagaClosedError, StaleEpochError, IdempotencyStore } from 'idempotent-sagas/store';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
let store: IdempotencyStore;
const TTL_S = 1;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE effects (id serial PRIMARY KEY, tag text NOT NULL)');
  store = new IdempotencyStore(db.pool, { defaultTtlSeconds: TTL_S });
});
afterAll(async () => {
  await db.drop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const effects = (tag: string): Promise<number> => db.count('SELECT count(*) AS n FROM effects WHERE tag = $1', [tag]);
const records = (where: string, params: unknown[]): Promise<number> => db.count(`SELECT count(*) AS n FROM idempotency_keys WHERE ${where}`, params);
const insertEffect = (tag: string) => async (client: PoolClient) => {
  await client.query('INSERT INTO effects (tag) VALUES ($1)', [tag]);
  return { tag };
};

test('a record of an open saga outlives its TTL: never deleted, never reset, the effect never runs again', async () => {
  const sagaId = 'saga-open-1';
  await store.runOnce({ scope: 'step', key: `${sagaId}/a`, sagaId, request: { n: 1 }, effect: insertEffect('open-a') });
  // The same effect without a saga: its record expires after the TTL and is reset (DESIGN §10 keeps this for HTTP records).
  await store.runOnce({ scope: 'step', key: 'no-saga/a', request: { n: 1 }, effect: insertEffect('free-a') });
  await sleep(TTL_S * 1000 + 300);

  const again = await store.runOnce({ scope: 'step', key: `${sagaId}/a`, sagaId, request: { n: 1 }, effect: insertEffect('open-a') });
  expect(again.replayed).toBe(true);
  expect(await effects('open-a')).toBe(1);
  await store.runOnce({ scope: 'step', key: 'no-saga/a', request: { n: 1 }, effect: insertEffect('free-a') });
  expect(await effects('free-a')).toBe(2);

  await sleep(TTL_S * 1000 + 300);
  const report = await store.cleanupExpired({ batchSize: 10 });
  expect(report.expiredDeleted).toBeGreaterThanOrEqual(1); // the free record went
  expect(report.skipped.openSagaRecords).toBeGreaterThanOrEqual(1);
  expect(await records('saga_id = $1', [sagaId])).toBe(1);
  expect(await records(`key = 'no-saga/a'`, [])).toBe(0);
});

test('the clock starts when the saga closes: its records go one TTL later, then its row; a late attempt gets no new record', async () => {
  const sagaId = 'saga-closing-1';
  await store.runOnce({ scope: 'step', key: `${sagaId}/a`, sagaId, request: {}, effect: insertEffect('closing-a') });
  const lease = await store.claimLease({ scope: 'step', key: `${sagaId}/ext`, sagaId, request: {}, owner: 'w', leaseMs: 5000 });
  if (lease.kind !== 'claimed') throw new Error('expected a claim');
  await store.completeLease({ scope: 'step', key: `${sagaId}/ext`, epoch: lease.epoch, result: { ok: true } });
  expect(await store.closeSaga({ sagaId, outcome: 'COMPLETED', scope: 'step' })).toEqual({ closed: true });
  expect(await store.closeSaga({ sagaId, outcome: 'COMPENSATED', scope: 'step' })).toEqual({ closed: false });
  expect(await db.count(`SELECT count(*) AS n FROM idempotency_sagas WHERE saga_id = $1 AND outcome = 'COMPLETED'`, [sagaId])).toBe(1);

  // Closed: a stored outcome still replays, but no new record (local, leased or failed) is created.
  expect((await store.runOnce({ scope: 'step', key: `${sagaId}/a`, sagaId, request: {}, effect: insertEffect('closing-a') })).replayed).toBe(true);
  await expect(store.runOnce({ scope: 'step', key: `${sagaId}/late`, sagaId, request: {}, effect: insertEffect('closing-late') })).rejects.toBeInstanceOf(
    SagaClosedError,
  );
  await expect(store.claimLease({ scope: 'step', key: `${sagaId}/late-ext`, sagaId, request: {}, owner: 'w', leaseMs: 1000 })).rejects.toBeInstanceOf(
    SagaClosedError,
  );
  expect(await effects('closing-late')).toBe(0);
  expect(await records('saga_id = $1', [sagaId])).toBe(2);

  // Within the TTL nothing goes; after it, the records, then the saga's row.
  expect((await store.cleanupExpired({ batchSize: 10 })).sagaRecordsDeleted).toBe(0);
  await sleep(TTL_S * 1000 + 300);
  const report = await store.cleanupExpired({ batchSize: 10 });
  expect(report.sagaRecordsDeleted).toBeGreaterThanOrEqual(2);
  expect(report.sagasDeleted).toBeGreaterThanOrEqual(1);
  expect(await records('saga_id = $1', [sagaId])).toBe(0);
  expect(await db.count('SELECT count(*) AS n FROM idempotency_sagas WHERE saga_id = $1', [sagaId])).toBe(0);
});

test('cleanup never deletes a record in progress, and reports what it kept', async () => {
  const claim = await store.claimLease({ scope: 'http', key: 'in-flight-1', request: {}, owner: 'api', leaseMs: 100 });
  expect(claim.kind).toBe('claimed');
  // A closed saga whose record is still in progress (a stale attempt's claim): kept too.
  const sagaId = 'saga-in-flight';
  await store.claimLease({ scope: 'step', key: `${sagaId}/ext`, sagaId, request: {}, owner: 'w', leaseMs: 100 });
  await store.closeSaga({ sagaId, outcome: 'COMPENSATED', scope: 'step' });
  await sleep(TTL_S * 1000 + 300);
  const report = await store.cleanupExpired({ batchSize: 10 });
  expect(report.skipped.inProgress).toBeGreaterThanOrEqual(2);
  expect(await records(`key = 'in-flight-1' AND status = 'in_progress'`, [])).toBe(1);
  expect(await records(`saga_id = $1 AND status = 'in_progress'`, [sagaId])).toBe(1);
  expect(await db.count('SELECT count(*) AS n FROM idempotency_sagas WHERE saga_id = $1', [sagaId])).toBe(1);
});

test('a compensation that finds no record undoes by natural key, once', async () => {
  const sagaId = 'saga-lost-record';
  const key = `${sagaId}/hold`;
  await store.runOnce({ scope: 'step', key, sagaId, request: {}, effect: insertEffect('lost-hold') });
  await db.pool.query('DELETE FROM idempotency_keys WHERE key = $1', [key]); // the record is gone (by whatever means)
  let undos = 0;
  const compensate = () =>
    store.compensateLocal({
      scope: 'step',
      key,
      sagaId,
      undo: async () => void (undos += 100),
      undoByNaturalKey: async (client) => {
        const { rowCount } = await client.query(`DELETE FROM effects WHERE tag = 'lost-hold'`);
        undos += 1;
        return rowCount === 1;
      },
    });
  expect(await compensate()).toBe('compensated-by-natural-key');
  expect(await compensate()).toBe('already-compensated');
  expect(undos).toBe(1);
  expect(await effects('lost-hold')).toBe(0);
  // The forward step can never apply now.
  await expect(store.runOnce({ scope: 'step', key, sagaId, request: {}, effect: insertEffect('lost-hold') })).rejects.toThrow(/aborted|compensat/);
  expect(await effects('lost-hold')).toBe(0);
});

test('a heartbeat cannot revive a released or expired lease', async () => {
  const a = await store.claimLease({ scope: 'step', key: 'beat-1', sagaId: 'saga-beat', request: {}, owner: 'w', leaseMs: 5000 });
  if (a.kind !== 'claimed') throw new Error('expected a claim');
  await store.releaseLease({ scope: 'step', key: 'beat-1', epoch: a.epoch });
  await expect(store.heartbeatLease({ scope: 'step', key: 'beat-1', epoch: a.epoch, leaseMs: 5000 })).rejects.toBeInstanceOf(StaleEpochError);
  expect((await store.get({ scope: 'step', key: 'beat-1' }))?.leaseMsLeft).toBe(0);

  const b = await store.claimLease({ scope: 'step', key: 'beat-2', sagaId: 'saga-beat', request: {}, owner: 'w', leaseMs: 50 });
  if (b.kind !== 'claimed') throw new Error('expected a claim');
  await sleep(120);
  await expect(store.heartbeatLease({ scope: 'step', key: 'beat-2', epoch: b.epoch, leaseMs: 5000 })).rejects.toBeInstanceOf(StaleEpochError);
  // The next attempt takes it over at once.
  const c = await store.claimLease({ scope: 'step', key: 'beat-2', sagaId: 'saga-beat', request: {}, owner: 'w2', leaseMs: 5000 });
  expect(c).toMatchObject({ kind: 'claimed', takeover: true, epoch: b.epoch + 1 });
});

test('work done in the transaction of a fenced write commits with it, or neither does', async () => {
  const a = await store.claimLease({ scope: 'step', key: 'mirror-1', sagaId: 'saga-mirror', request: {}, owner: 'w', leaseMs: 5000 });
  if (a.kind !== 'claimed') throw new Error('expected a claim');
  const failing = store.completeLease({
    scope: 'step',
    key: 'mirror-1',
    epoch: a.epoch,
    result: { ok: 1 },
    inTransaction: async (client) => {
      await client.query(`INSERT INTO effects (tag) VALUES ('mirror-1')`);
      throw new Error('crash before commit');
    },
  });
  await expect(failing).rejects.toThrow('crash before commit');
  expect(await effects('mirror-1')).toBe(0);
  expect((await store.get({ scope: 'step', key: 'mirror-1' }))?.status).toBe('in_progress');

  await store.completeLease({
    scope: 'step',
    key: 'mirror-1',
    epoch: a.epoch,
    result: { ok: 1 },
    inTransaction: async (client) => void (await client.query(`INSERT INTO effects (tag) VALUES ('mirror-1')`)),
  });
  expect(await effects('mirror-1')).toBe(1);
  expect((await store.get({ scope: 'step', key: 'mirror-1' }))?.status).toBe('completed');
  // A stale epoch changes neither.
  await expect(
    store.completeLease({
      scope: 'step',
      key: 'mirror-1',
      epoch: a.epoch,
      result: { ok: 2 },
      inTransaction: async (client) => void (await client.query(`INSERT INTO effects (tag) VALUES ('mirror-1')`)),
    }),
  ).rejects.toBeInstanceOf(StaleEpochError);
  expect(await effects('mirror-1')).toBe(1);
});

describe('the checks that watch retention can fail', () => {
  test('an open saga missing a step record is reported by checkInvariants', async () => {
    await db.pool.query(`INSERT INTO orders (id, workflow_id, tenant_id, status, items, total_cents, currency)
      VALUES ('ord-lost', 'order-ord-lost', 't', 'COMPENSATION_STUCK', '[]', 100, 'EUR')`);
    const report = await checkInvariants(db.pool);
    expect(report.violations.filter((v) => v.startsWith('every order whose saga is open still has the step records'))).toEqual([
      expect.stringContaining('ord-lost (create-order)') as unknown as string,
    ]);
    await store.runOnce({ scope: 'step', key: 'order-ord-lost/create-order', sagaId: 'order-ord-lost', request: {}, effect: async () => null });
    expect((await checkInvariants(db.pool)).violations.filter((v) => v.includes('ord-lost'))).toEqual([]);
    await db.pool.query(`DELETE FROM idempotency_keys WHERE saga_id = 'order-ord-lost'; DELETE FROM orders WHERE id = 'ord-lost'`);
  });

  test("chaos's deletion witness counts a deleted record of an open saga, and not one of a closed saga", async () => {
    await installDeletionWitness(db.pool);
    await store.runOnce({ scope: 'step', key: 'witness-open/a', sagaId: 'witness-open', request: {}, effect: async () => null });
    await store.runOnce({ scope: 'step', key: 'witness-closed/a', sagaId: 'witness-closed', request: {}, effect: async () => null });
    await store.closeSaga({ sagaId: 'witness-closed', outcome: 'COMPLETED', scope: 'step' });
    await db.pool.query(`DELETE FROM idempotency_keys WHERE saga_id IN ('witness-open', 'witness-closed')`);
    expect(await deletionWitness(db.pool)).toMatchObject({ deleted: 2, live: 1, liveExamples: ['witness-open/a'] });

    // Takeovers: a forward record completed at epoch 2 counts, kept or deleted; one completed at its first claim does not.
    const before = await takeoverWitness(db.pool);
    for (const key of ['witness-takeover/kept', 'witness-takeover/deleted', 'witness-takeover/first']) {
      const first = await store.claimLease({ scope: 'step', key, sagaId: 'witness-takeover', request: {}, owner: 'a', leaseMs: 5000 });
      if (first.kind !== 'claimed') throw new Error('expected a claim');
      let epoch = first.epoch;
      if (!key.endsWith('first')) {
        await store.releaseLease({ scope: 'step', key, epoch });
        const second = await store.claimLease({ scope: 'step', key, sagaId: 'witness-takeover', request: {}, owner: 'b', leaseMs: 5000 });
        if (second.kind !== 'claimed') throw new Error('expected a takeover');
        epoch = second.epoch;
      }
      await store.completeLease({ scope: 'step', key, epoch, result: {} });
    }
    await db.pool.query(`DELETE FROM idempotency_keys WHERE key = 'witness-takeover/deleted'`);
    expect((await takeoverWitness(db.pool)) - before).toBe(2);
  });
});
