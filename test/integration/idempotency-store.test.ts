// The store against a real Postgres: every case counts effect rows, not just "did not throw".
import { Client, Pool, type PoolClient } from 'pg';
import { BusinessFailure, EffectWithoutKeyError, ErrorType, IdempotencyStore } from 'idempotent-sagas/store';
import { FingerprintMismatchError, InProgressError, InvalidInputError, KeyAbortedError, SagaClosedError, StaleEpochError } from 'idempotent-sagas/store';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
let store: IdempotencyStore;
const SCOPE = 'test';

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 20 });
  await db.pool.query('CREATE TABLE effects (id serial PRIMARY KEY, tag text NOT NULL, amount int NOT NULL)');
});
afterAll(async () => {
  await db.drop();
});
beforeEach(() => {
  store = new IdempotencyStore(db.pool, { defaultTtlSeconds: 3600, ttlSecondsByScope: { short: 60 } });
});

const effectRows = (tag: string): Promise<number> => db.count('SELECT count(*) AS n FROM effects WHERE tag = $1', [tag]);
const keyRows = (key: string): Promise<number> => db.count('SELECT count(*) AS n FROM idempotency_keys WHERE key = $1', [key]);

/** A promise and the function that resolves it: one test step waiting for another. */
function signal(): { fired: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fired, fire };
}

/** Waits until at least `n` backends of the test database wait on a lock. */
async function waitForLockWait(n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const waiting = await db.count(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    if (waiting >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${n} backends waiting on a lock`);
}

/** An effect that writes one row and returns its id. */
function insertEffect(tag: string, amount = 1) {
  return async (client: PoolClient): Promise<{ effectId: number; amount: number }> => {
    const { rows } = await client.query<{ id: number }>('INSERT INTO effects (tag, amount) VALUES ($1, $2) RETURNING id', [tag, amount]);
    return { effectId: rows[0]!.id, amount };
  };
}

describe('runOnce (local effects)', () => {
  test('200 concurrent calls with one key: the effect exists once and every caller gets the same result', async () => {
    let invocations = 0;
    const calls = Array.from({ length: 200 }, () =>
      store.runOnce({
        scope: SCOPE,
        key: 'concurrent-1',
        request: { amount: 5 },
        effect: async (client) => {
          invocations += 1;
          return insertEffect('concurrent-1', 5)(client);
        },
      }),
    );
    const outcomes = await Promise.all(calls);
    expect(await effectRows('concurrent-1')).toBe(1);
    expect(invocations).toBe(1);
    const first = outcomes.find((o) => !o.replayed)!;
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    for (const o of outcomes) expect(o.result).toEqual(first.result);
    const counters = store.counters.snapshot();
    expect(counters.executions).toBe(1);
    expect(counters.replays).toBe(199);
  });

  test.each([
    ['claim first', false],
    ['key last (expectNew)', true],
  ])('%s: a backend killed between the effect and the commit leaves neither effect nor key; the retry applies once', async (_protocol, expectNew) => {
    const key = `killed-${String(expectNew)}`;
    const killer = new Client({ connectionString: db.url });
    await killer.connect();
    try {
      const attempt = store.runOnce({
        scope: SCOPE,
        key,
        request: { n: 1 },
        expectNew,
        effect: async (client) => {
          const out = await insertEffect(key)(client);
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          return out;
        },
      });
      await expect(attempt).rejects.toThrow(/terminat|connection/i);
    } finally {
      await killer.end();
    }
    expect(await effectRows(key)).toBe(0);
    expect(await keyRows(key)).toBe(0);

    const retry = await store.runOnce({ scope: SCOPE, key, request: { n: 1 }, effect: insertEffect(key) });
    expect(retry.replayed).toBe(false);
    expect(await effectRows(key)).toBe(1);
    const again = await store.runOnce({ scope: SCOPE, key, request: { n: 1 }, effect: insertEffect(key) });
    expect(again).toEqual({ result: retry.result, replayed: true });
    expect(await effectRows(key)).toBe(1);
  });

  test('the same key with a different request is a typed mismatch; reordered fields are the same request', async () => {
    const first = await store.runOnce({
      scope: SCOPE,
      key: 'fp-1',
      request: { sku: 'A', qty: 2, meta: { x: 1, y: [1, 2] } },
      effect: insertEffect('fp-1'),
    });
    const reordered = await store.runOnce({
      scope: SCOPE,
      key: 'fp-1',
      request: { meta: { y: [1, 2], x: 1 }, qty: 2, sku: 'A' },
      effect: insertEffect('fp-1'),
    });
    expect(reordered).toEqual({ result: first.result, replayed: true });
    const mismatch = store.runOnce({ scope: SCOPE, key: 'fp-1', request: { sku: 'A', qty: 3 }, effect: insertEffect('fp-1') });
    await expect(mismatch).rejects.toBeInstanceOf(FingerprintMismatchError);
    await expect(mismatch).rejects.toMatchObject({ type: ErrorType.FingerprintMismatch, retryable: false });
    expect(await effectRows('fp-1')).toBe(1);
    expect(store.counters.snapshot().mismatches).toBe(1);
  });

  test('a business failure is stored with the effect rolled back, and every duplicate gets the same failure', async () => {
    let invocations = 0;
    const failing = async (client: PoolClient): Promise<never> => {
      invocations += 1;
      await insertEffect('fail-1')(client); // partial write before deciding to fail: must not survive
      throw new BusinessFailure('OUT_OF_STOCK', 'SKU-9 has 0 left', { sku: 'SKU-9', available: 0 });
    };
    const first = store.runOnce({ scope: SCOPE, key: 'fail-1', request: {}, effect: failing });
    await expect(first).rejects.toMatchObject({ type: 'OUT_OF_STOCK', replayed: false, details: { sku: 'SKU-9', available: 0 } });
    for (let i = 0; i < 3; i++) {
      const dup = store.runOnce({ scope: SCOPE, key: 'fail-1', request: {}, effect: failing });
      await expect(dup).rejects.toMatchObject({
        type: 'OUT_OF_STOCK',
        message: 'SKU-9 has 0 left',
        details: { sku: 'SKU-9', available: 0 },
        replayed: true,
      });
    }
    expect(invocations).toBe(1);
    expect(await effectRows('fail-1')).toBe(0);
    const record = await store.get({ scope: SCOPE, key: 'fail-1' });
    expect(record?.status).toBe('failed');
  });

  test('an expired record no longer deduplicates: the key executes again', async () => {
    await store.runOnce({ scope: 'short', key: 'exp-1', request: {}, effect: insertEffect('exp-1') });
    await store.runOnce({ scope: 'short', key: 'exp-1', request: {}, effect: insertEffect('exp-1') });
    expect(await effectRows('exp-1')).toBe(1);
    const ttl = await db.count(`SELECT round(EXTRACT(EPOCH FROM expires_at - created_at)) AS n FROM idempotency_keys WHERE scope = 'short' AND key = 'exp-1'`);
    expect(ttl).toBe(60); // the per-scope TTL, not the default hour
    await db.pool.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'exp-1'`);
    const again = await store.runOnce({ scope: 'short', key: 'exp-1', request: { changed: true }, effect: insertEffect('exp-1') });
    expect(again.replayed).toBe(false);
    expect(await effectRows('exp-1')).toBe(2);
    expect(await keyRows('exp-1')).toBe(1);
  });

  test('a result that cannot be serialised as JSON is a typed error and writes nothing', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: Array<[string, unknown]> = [
      ['bigint', { n: 10n }],
      ['nan', { n: Number.NaN }],
      ['infinity', [Infinity]],
      ['undefined', { u: undefined }],
      ['function', { f: () => 1 }],
      ['date', { d: new Date(0) }],
      ['cycle', cyclic],
    ];
    for (const [name, result] of bad) {
      const attempt = store.runOnce({
        scope: SCOPE,
        key: `bad-result-${name}`,
        request: {},
        effect: async (client) => {
          await insertEffect(`bad-result-${name}`)(client);
          return result;
        },
      });
      await expect(attempt).rejects.toBeInstanceOf(InvalidInputError);
      expect(await effectRows(`bad-result-${name}`)).toBe(0);
      expect(await keyRows(`bad-result-${name}`)).toBe(0);
    }
  });

  test('bad keys, scopes and requests are typed errors; nothing is written and the effect never runs', async () => {
    const before = await db.count('SELECT count(*) AS n FROM idempotency_keys');
    let invocations = 0;
    const effect = async (client: PoolClient): Promise<{ effectId: number; amount: number }> => {
      invocations += 1;
      return insertEffect('bad-input')(client);
    };
    const badKeys = ['', 'k'.repeat(256), 'line\nbreak', 'nul\u0000', 'tab\tkey', 'caf\u00e9', '\u007f'];
    for (const key of badKeys) {
      await expect(store.runOnce({ scope: SCOPE, key, request: {}, effect })).rejects.toMatchObject({
        type: ErrorType.InvalidInput,
        field: 'key',
      });
      await expect(store.claimLease({ scope: SCOPE, key, request: {}, owner: 'w', leaseMs: 1000 })).rejects.toBeInstanceOf(InvalidInputError);
      await expect(store.compensateLocal({ scope: SCOPE, key, undo: async () => {}, undoByNaturalKey: async () => false })).rejects.toBeInstanceOf(
        InvalidInputError,
      );
    }
    for (const scope of ['', 'Upper', '1abc', 'has space', 's'.repeat(65)]) {
      await expect(store.runOnce({ scope, key: 'ok', request: {}, effect })).rejects.toMatchObject({ field: 'scope' });
    }
    await expect(store.runOnce({ scope: SCOPE, key: 'ok', request: { n: 1n }, effect })).rejects.toMatchObject({
      type: ErrorType.InvalidInput,
    });
    expect(invocations).toBe(0);
    expect(await effectRows('bad-input')).toBe(0);
    expect(await db.count('SELECT count(*) AS n FROM idempotency_keys')).toBe(before);
    // 255 printable characters is the longest valid key.
    const longest = '~'.repeat(255);
    await store.runOnce({ scope: SCOPE, key: longest, request: {}, effect });
    expect(await keyRows(longest)).toBe(1);
  });
});

describe("runOnce with expectNew: the key written last, in the effect's transaction", () => {
  /** Runs `effect` through runOnce as a first attempt does, counting the effect function's invocations in `counted`. */
  function firstAttempt(
    key: string,
    effect: (client: PoolClient) => Promise<unknown>,
    opts: { sagaId?: string; request?: unknown; counted?: { invocations: number } } = {},
  ) {
    return store.runOnce({
      scope: SCOPE,
      key,
      request: opts.request ?? { n: 1 },
      expectNew: true,
      ...(opts.sagaId && { sagaId: opts.sagaId }),
      effect: (client) => {
        if (opts.counted) opts.counted.invocations += 1;
        return effect(client);
      },
    });
  }

  beforeAll(() => db.pool.query('CREATE TABLE natural_effects (tag text PRIMARY KEY)'));

  /** An effect with a natural key of its own: the row `tag` of natural_effects, which a second insert fails on. */
  const insertNatural =
    (tag: string) =>
    async (client: PoolClient): Promise<{ tag: string }> => {
      await client.query('INSERT INTO natural_effects (tag) VALUES ($1)', [tag]);
      return { tag };
    };
  /** A retry's call (no expectNew): the key claimed before `effect` runs. */
  const claimedAttempt = <T>(key: string, effect: (client: PoolClient) => Promise<T>) => store.runOnce({ scope: SCOPE, key, request: { n: 1 }, effect });
  const naturalRows = (tag: string): Promise<number> => db.count('SELECT count(*) AS n FROM natural_effects WHERE tag = $1', [tag]);

  test('50 concurrent first attempts and a later one: the effect commits once, one caller executes, every caller gets its result', async () => {
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => firstAttempt('last-concurrent', insertEffect('last-concurrent', 3))));
    const later = await firstAttempt('last-concurrent', insertEffect('last-concurrent', 3));
    expect(await effectRows('last-concurrent')).toBe(1);
    expect(await keyRows('last-concurrent')).toBe(1);
    const executed = outcomes.filter((o) => !o.replayed);
    expect(executed).toHaveLength(1);
    for (const o of [...outcomes, later]) expect(o.result).toEqual(executed[0]!.result);
    expect(later.replayed).toBe(true);
    expect(store.counters.snapshot().executions).toBe(1);
  });

  test('a stored key: the effect runs, its writes roll back, and the stored result answers', async () => {
    const first = await store.runOnce({ scope: SCOPE, key: 'last-stored', request: { n: 1 }, effect: insertEffect('last-stored') });
    const counted = { invocations: 0 };
    expect(await firstAttempt('last-stored', insertEffect('last-stored'), { counted })).toEqual({ result: first.result, replayed: true });
    expect(counted.invocations).toBe(1); // it ran, and nothing of it committed:
    expect(await effectRows('last-stored')).toBe(1);
    expect(await keyRows('last-stored')).toBe(1);
  });

  test('a stored business failure answers a first attempt with the same failure; the effect leaves nothing', async () => {
    const decline = async (): Promise<never> => {
      throw new BusinessFailure('CARD_DECLINED', 'declined');
    };
    await expect(store.runOnce({ scope: SCOPE, key: 'last-failed', request: { n: 1 }, effect: decline })).rejects.toMatchObject({ type: 'CARD_DECLINED' });
    await expect(firstAttempt('last-failed', insertEffect('last-failed'))).rejects.toMatchObject({ type: 'CARD_DECLINED' });
    expect(await effectRows('last-failed')).toBe(0);
  });

  test('an expired record: the first attempt executes again, once, and the key holds the new result', async () => {
    await store.runOnce({ scope: SCOPE, key: 'last-expired', request: { n: 1 }, effect: insertEffect('last-expired') });
    await db.pool.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'last-expired'`);
    const again = await firstAttempt('last-expired', insertEffect('last-expired', 7), { request: { n: 2 } });
    expect(again).toMatchObject({ replayed: false, result: { amount: 7 } });
    expect(await effectRows('last-expired')).toBe(2);
    expect(await keyRows('last-expired')).toBe(1);
    expect((await store.get({ scope: SCOPE, key: 'last-expired' }))?.result).toEqual(again.result);
  });

  test("a duplicate committing first fails this attempt's effect on a natural key: the attempt answers from the duplicate's record", async () => {
    // A claimed duplicate holds its transaction open after its effect, until the first attempt is blocked behind it.
    const held = signal();
    const inserted = signal();
    const claimed = claimedAttempt('last-natural', async (client) => {
      const out = await insertNatural('one')(client);
      inserted.fire();
      await held.fired;
      return out;
    });
    await inserted.fired;
    const attempt = firstAttempt('last-natural', insertNatural('one'));
    await waitForLockWait(1);
    held.fire();
    expect(await claimed).toEqual({ result: { tag: 'one' }, replayed: false });
    expect(await attempt).toEqual({ result: { tag: 'one' }, replayed: true });
    expect(await naturalRows('one')).toBe(1);
  });

  test('a claimed retry and a first attempt lock in opposite orders: the deadlock they meet ends with one effect and both answered', async () => {
    // The retry claims the key first and waits; the first attempt then applies its effect and blocks on the claim.
    const gate = signal();
    const keyClaimed = signal();
    const retry = claimedAttempt('last-deadlock', async (client) => {
      keyClaimed.fire();
      await gate.fired;
      return insertNatural('two')(client); // blocks on the first attempt's row: a cycle
    });
    await keyClaimed.fired;
    const attempt = firstAttempt('last-deadlock', insertNatural('two'));
    await waitForLockWait(1);
    gate.fire();
    const [r, a] = await Promise.all([retry, attempt]);
    expect([r.replayed, a.replayed].sort()).toEqual([false, true]);
    expect(r.result).toEqual({ tag: 'two' });
    expect(a.result).toEqual({ tag: 'two' });
    expect(await naturalRows('two')).toBe(1);
  });

  test('without pipeline mode: a first attempt commits once and a stored key answers it', async () => {
    const plain = new Pool({ connectionString: db.url, max: 2 });
    try {
      const unpiped = new IdempotencyStore(plain, { defaultTtlSeconds: 3600 });
      const first = await unpiped.runOnce({ scope: SCOPE, key: 'last-unpiped', request: { n: 1 }, expectNew: true, effect: insertEffect('last-unpiped') });
      const again = await unpiped.runOnce({ scope: SCOPE, key: 'last-unpiped', request: { n: 1 }, expectNew: true, effect: insertEffect('last-unpiped') });
      expect(first.replayed).toBe(false);
      expect(again).toEqual({ result: first.result, replayed: true });
      expect(await effectRows('last-unpiped')).toBe(1);
    } finally {
      await plain.end();
    }
  });

  test('a key insert refused by the client (a statement-name clash) while its COMMIT went through: a non-retryable EffectWithoutKeyError', async () => {
    const one = new Pool({ connectionString: db.url, max: 1, pipeline: true });
    try {
      await one.query({ name: 'idem_insert_completed', text: 'SELECT 1' }); // the name, taken on the only connection
      const clashing = new IdempotencyStore(one, { defaultTtlSeconds: 3600 });
      const attempt = clashing.runOnce({ scope: SCOPE, key: 'last-clash', request: { n: 1 }, expectNew: true, effect: insertEffect('last-clash') });
      await expect(attempt).rejects.toBeInstanceOf(EffectWithoutKeyError);
      await expect(attempt).rejects.toMatchObject({ type: ErrorType.EffectWithoutKey, retryable: false });
      expect(await effectRows('last-clash')).toBe(1); // what the error reports: applied, without its record
      expect(await keyRows('last-clash')).toBe(0);
    } finally {
      await one.end();
    }
  });

  test('a closed saga refuses a first attempt: SagaClosedError, and neither effect nor key is written', async () => {
    await store.closeSaga({ sagaId: 'last-closed-saga', outcome: 'COMPLETED', scope: SCOPE });
    const attempt = firstAttempt('last-closed', insertEffect('last-closed'), { sagaId: 'last-closed-saga' });
    await expect(attempt).rejects.toBeInstanceOf(SagaClosedError);
    expect(await effectRows('last-closed')).toBe(0);
    expect(await keyRows('last-closed')).toBe(0);
  });
});

describe('compensation of local effects', () => {
  test('an absent forward key gets the tombstone; the late forward attempt is refused and applies nothing', async () => {
    expect(await store.compensateLocal({ scope: SCOPE, key: 'tomb-1', undo: async () => {}, undoByNaturalKey: async () => false })).toBe('tombstoned');
    expect(await store.compensateLocal({ scope: SCOPE, key: 'tomb-1', undo: async () => {}, undoByNaturalKey: async () => false })).toBe('already-aborted');
    const late = store.runOnce({ scope: SCOPE, key: 'tomb-1', request: {}, effect: insertEffect('tomb-1') });
    await expect(late).rejects.toBeInstanceOf(KeyAbortedError);
    await expect(late).rejects.toMatchObject({ type: ErrorType.KeyAborted, retryable: false });
    expect(await effectRows('tomb-1')).toBe(0);
    expect(store.counters.snapshot().abortRefusals).toBe(1);
  });

  test('an applied effect is undone once and marked compensated, however often compensation runs', async () => {
    await store.runOnce({ scope: SCOPE, key: 'undo-1', request: {}, effect: insertEffect('undo-1', 7) });
    let undos = 0;
    const undo = async (client: PoolClient, forward: { effectId: number }): Promise<void> => {
      undos += 1;
      await client.query('DELETE FROM effects WHERE id = $1', [forward.effectId]);
    };
    const results = await Promise.all([1, 2, 3].map(() => store.compensateLocal({ scope: SCOPE, key: 'undo-1', undo, undoByNaturalKey: async () => false })));
    expect(results.sort()).toEqual(['already-compensated', 'already-compensated', 'compensated']);
    expect(undos).toBe(1);
    expect(await effectRows('undo-1')).toBe(0);
    await expect(store.runOnce({ scope: SCOPE, key: 'undo-1', request: {}, effect: insertEffect('undo-1') })).rejects.toBeInstanceOf(KeyAbortedError);
    expect(await effectRows('undo-1')).toBe(0);
  });

  test('a definitively failed forward step has nothing to undo', async () => {
    const fail = async (): Promise<never> => {
      throw new BusinessFailure('CARD_DECLINED', 'declined');
    };
    await expect(store.runOnce({ scope: SCOPE, key: 'undo-failed', request: {}, effect: fail })).rejects.toBeInstanceOf(BusinessFailure);
    let undos = 0;
    const outcome = await store.compensateLocal({ scope: SCOPE, key: 'undo-failed', undo: async () => void (undos += 1), undoByNaturalKey: async () => false });
    expect(outcome).toBe('not-applied');
    expect(undos).toBe(0);
  });
});

describe('external effects (lease and fencing epoch)', () => {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  // A lease that must still be live a few queries later: long enough that a loaded 2-core machine stalling
  // the test for a moment does not let it lapse. Where a test needs it lapsed, it sleeps out what is left.
  const LEASE_MS = 1000;
  /** Sleeps until a lease with `leftMs` left (as the store reported it, rounded up) has lapsed. */
  const outlive = (leftMs: number): Promise<void> => sleep(leftMs + 100);
  const charges = (key: string): Promise<number> => effectRows(`charge:${key}`);
  /** A stand-in provider that records one row per call it applies. */
  const provider = (key: string) => db.pool.query("INSERT INTO effects (tag, amount) VALUES ('charge:' || $1, 100)", [key]);

  test("A claims, its lease expires, B takes over and completes; A's late completion is refused and changes nothing", async () => {
    const a = await store.claimLease({ scope: SCOPE, key: 'lease-1', request: { amount: 100 }, owner: 'worker-a', leaseMs: LEASE_MS });
    expect(a).toMatchObject({ kind: 'claimed', epoch: 1, takeover: false });
    const early = store.claimLease({ scope: SCOPE, key: 'lease-1', request: { amount: 100 }, owner: 'worker-b', leaseMs: 5000 });
    await expect(early).rejects.toBeInstanceOf(InProgressError);
    const err = (await early.catch((e: unknown) => e)) as InProgressError;
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.retryAfterMs).toBeLessThanOrEqual(LEASE_MS);

    await outlive(err.retryAfterMs); // A stalls past its lease
    const b = await store.claimLease({ scope: SCOPE, key: 'lease-1', request: { amount: 100 }, owner: 'worker-b', leaseMs: 5000 });
    expect(b).toMatchObject({ kind: 'claimed', epoch: 2, takeover: true, attempt: 2 });
    await provider('lease-1');
    await store.completeLease({ scope: SCOPE, key: 'lease-1', epoch: 2, result: { chargeId: 'ch_b' } });

    const late = store.completeLease({ scope: SCOPE, key: 'lease-1', epoch: 1, result: { chargeId: 'ch_a' } });
    await expect(late).rejects.toBeInstanceOf(StaleEpochError);
    await expect(store.heartbeatLease({ scope: SCOPE, key: 'lease-1', epoch: 1, leaseMs: 1000 })).rejects.toBeInstanceOf(StaleEpochError);
    await expect(store.failLease({ scope: SCOPE, key: 'lease-1', epoch: 1, failure: new BusinessFailure('CARD_DECLINED', 'no') })).rejects.toBeInstanceOf(
      StaleEpochError,
    );

    const record = await store.get({ scope: SCOPE, key: 'lease-1' });
    expect(record).toMatchObject({ status: 'completed', result: { chargeId: 'ch_b' }, epoch: 2 });
    expect(await charges('lease-1')).toBe(1);
    const replay = await store.claimLease({ scope: SCOPE, key: 'lease-1', request: { amount: 100 }, owner: 'c', leaseMs: 1000 });
    expect(replay).toEqual({ kind: 'replayed', result: { chargeId: 'ch_b' } });
    const counters = store.counters.snapshot();
    expect(counters.leaseTakeovers).toBe(1);
    expect(counters.fencedWrites).toBe(3);
    expect(counters.conflicts).toBe(1);
  });

  test('heartbeats keep a lease alive; a released lease (ambiguous answer) is taken over at once', async () => {
    const claimedAt = Date.now();
    const a = await store.claimLease({ scope: SCOPE, key: 'lease-2', request: {}, owner: 'a', leaseMs: LEASE_MS });
    if (a.kind !== 'claimed') throw new Error('expected a claim');
    // Beats 400 ms apart (600 ms of margin each) until the first lease would long have lapsed.
    for (let i = 0; i < 3; i++) {
      await sleep(400);
      await store.heartbeatLease({ scope: SCOPE, key: 'lease-2', epoch: a.epoch, leaseMs: LEASE_MS });
    }
    expect(Date.now() - claimedAt).toBeGreaterThan(LEASE_MS);
    await expect(store.claimLease({ scope: SCOPE, key: 'lease-2', request: {}, owner: 'b', leaseMs: LEASE_MS })).rejects.toBeInstanceOf(InProgressError);
    expect(await store.get({ scope: SCOPE, key: 'lease-2' })).toMatchObject({ status: 'in_progress', epoch: a.epoch });
    await store.releaseLease({ scope: SCOPE, key: 'lease-2', epoch: a.epoch });
    const b = await store.claimLease({ scope: SCOPE, key: 'lease-2', request: {}, owner: 'b', leaseMs: LEASE_MS });
    expect(b).toMatchObject({ kind: 'claimed', epoch: a.epoch + 1, takeover: true });
  });

  test('a definitive provider failure is stored and replayed; a different request for the key is a mismatch', async () => {
    const a = await store.claimLease({ scope: SCOPE, key: 'lease-3', request: { amount: 5 }, owner: 'a', leaseMs: 1000 });
    if (a.kind !== 'claimed') throw new Error('expected a claim');
    await expect(store.claimLease({ scope: SCOPE, key: 'lease-3', request: { amount: 6 }, owner: 'b', leaseMs: 1000 })).rejects.toBeInstanceOf(
      FingerprintMismatchError,
    );
    await store.failLease({ scope: SCOPE, key: 'lease-3', epoch: a.epoch, failure: new BusinessFailure('CARD_DECLINED', 'insufficient funds') });
    await expect(store.claimLease({ scope: SCOPE, key: 'lease-3', request: { amount: 5 }, owner: 'b', leaseMs: 1000 })).rejects.toMatchObject({
      type: 'CARD_DECLINED',
      replayed: true,
    });
  });

  test('compensation fencing: waits out a live lease, fences the stale attempt, and is idempotent', async () => {
    // Absent forward key: tombstone, and a later claim is refused.
    expect(await store.fenceForCompensation({ scope: SCOPE, key: 'comp-absent', owner: 'comp', leaseMs: 1000 })).toEqual({
      kind: 'tombstoned',
    });
    await expect(store.claimLease({ scope: SCOPE, key: 'comp-absent', request: {}, owner: 'a', leaseMs: 1000 })).rejects.toBeInstanceOf(KeyAbortedError);

    // Live forward lease: the compensation must wait.
    const a = await store.claimLease({ scope: SCOPE, key: 'comp-1', request: {}, owner: 'a', leaseMs: LEASE_MS });
    if (a.kind !== 'claimed') throw new Error('expected a claim');
    const waiting = await store.fenceForCompensation({ scope: SCOPE, key: 'comp-1', owner: 'comp', leaseMs: 1000 }).catch((e: unknown) => e);
    expect(waiting).toBeInstanceOf(InProgressError);
    expect(await store.get({ scope: SCOPE, key: 'comp-1' })).toMatchObject({ status: 'in_progress', epoch: a.epoch });
    await outlive((waiting as InProgressError).retryAfterMs); // the forward attempt stalls past its lease
    const fence = await store.fenceForCompensation({ scope: SCOPE, key: 'comp-1', owner: 'comp', leaseMs: 1000 });
    expect(fence).toEqual({ kind: 'uncertain', epoch: a.epoch + 1 });
    // The stale forward attempt finally hears from the provider: its write is fenced off.
    await expect(store.completeLease({ scope: SCOPE, key: 'comp-1', epoch: a.epoch, result: { chargeId: 'x' } })).rejects.toBeInstanceOf(StaleEpochError);
    if (fence.kind !== 'uncertain') throw new Error('expected uncertain');
    await store.markCompensated({ scope: SCOPE, key: 'comp-1', epoch: fence.epoch, status: 'aborted' });
    expect(await store.fenceForCompensation({ scope: SCOPE, key: 'comp-1', owner: 'comp', leaseMs: 1000 })).toEqual({
      kind: 'done',
      status: 'aborted',
    });

    // Completed forward: applied with its result, then compensated exactly once.
    const c = await store.claimLease({ scope: SCOPE, key: 'comp-2', request: {}, owner: 'a', leaseMs: 1000 });
    if (c.kind !== 'claimed') throw new Error('expected a claim');
    await store.completeLease({ scope: SCOPE, key: 'comp-2', epoch: c.epoch, result: { chargeId: 'ch_2' } });
    const applied = await store.fenceForCompensation<{ chargeId: string }>({ scope: SCOPE, key: 'comp-2', owner: 'comp', leaseMs: 1000 });
    expect(applied).toEqual({ kind: 'applied', epoch: c.epoch + 1, result: { chargeId: 'ch_2' } });
    if (applied.kind !== 'applied') throw new Error('expected applied');
    await store.markCompensated({ scope: SCOPE, key: 'comp-2', epoch: applied.epoch, status: 'compensated' });
    await expect(store.markCompensated({ scope: SCOPE, key: 'comp-2', epoch: applied.epoch - 1, status: 'compensated' })).rejects.toBeInstanceOf(
      StaleEpochError,
    );
    expect(await store.fenceForCompensation({ scope: SCOPE, key: 'comp-2', owner: 'comp', leaseMs: 1000 })).toEqual({
      kind: 'done',
      status: 'compensated',
    });
  });
});

describe('cleanup', () => {
  test('deletes only expired records, in bounded batches, and reports how many', async () => {
    const cleanupStore = new IdempotencyStore(db.pool, { defaultTtlSeconds: 3600 });
    for (let i = 0; i < 25; i++) {
      await cleanupStore.runOnce({ scope: 'cleanup', key: `old-${i}`, request: {}, effect: async () => ({ i }) });
    }
    for (let i = 0; i < 5; i++) {
      await cleanupStore.runOnce({ scope: 'cleanup', key: `live-${i}`, request: {}, effect: async () => ({ i }) });
    }
    await db.pool.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE scope = 'cleanup' AND key LIKE 'old-%'`);
    // Other test cases' records are live; only the 25 expired ones may go.
    const batches: number[] = [];
    const report = await cleanupStore.cleanupExpired({ batchSize: 10, onBatch: (n) => batches.push(n) });
    expect(report).toMatchObject({ deleted: 25, expiredDeleted: 25, sagaRecordsDeleted: 0, batches: 3 });
    expect(batches).toEqual([10, 10, 5]);
    expect(await db.count(`SELECT count(*) AS n FROM idempotency_keys WHERE scope = 'cleanup'`)).toBe(5);
    expect(await cleanupStore.cleanupExpired({ batchSize: 10 })).toMatchObject({ deleted: 0, batches: 0 });
  });

  test('maxBatches bounds one run', async () => {
    const s = new IdempotencyStore(db.pool, { defaultTtlSeconds: 3600 });
    for (let i = 0; i < 7; i++) await s.runOnce({ scope: 'cleanup2', key: `k-${i}`, request: {}, effect: async () => i });
    await db.pool.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE scope = 'cleanup2'`);
    expect(await s.cleanupExpired({ batchSize: 3, maxBatches: 2 })).toMatchObject({ deleted: 6, batches: 2 });
    expect(await db.count(`SELECT count(*) AS n FROM idempotency_keys WHERE scope = 'cleanup2'`)).toBe(1);
  });
});
