// The webhook_events statements (apps/orders/api/webhook-events.ts) on a real database: the claim protocol's
// transitions, and pruning by age in bounded batches, with retention compressed to one second.
import { loadConfig } from '../../src/config';
import { InvalidInputError } from 'idempotent-sagas/store';
import {
  markWebhookEventSignalled,
  pruneWebhookEvents,
  readWebhookEvent,
  recordWebhookEvent,
  releaseWebhookEventClaim,
  takeOverWebhookEvent,
} from '../../apps/orders/api/webhook-events';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 4 });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('DELETE FROM webhook_events');
});

const WINDOW = 10;
const event = (eventId: string) => ({ eventId, type: 'charge.succeeded', chargeId: `ch_${eventId}`, idempotencyKey: `order-ord_${'a'.repeat(24)}/charge` });
const rows = () => db.count('SELECT count(*) AS n FROM webhook_events');
/** Inserts `n` rows received (and claimed) `ageSeconds` ago; signalled unless `signalled` is false. */
const insertAged = (prefix: string, n: number, ageSeconds: number, signalled = true) =>
  db.pool.query(
    `INSERT INTO webhook_events (event_id, type, charge_id, idempotency_key, received_at, claimed_at, signalled_at)
     SELECT $1 || i, 'charge.succeeded', 'ch_' || i, 'k', now() - $2 * interval '1 second', now() - $2 * interval '1 second',
            CASE WHEN $4 THEN now() - $2 * interval '1 second' END
       FROM generate_series(1, $3) AS i`,
    [prefix, ageSeconds, n, signalled],
  );

describe('claim protocol', () => {
  test('record → live claim → released → taken over → signalled; each transition happens once', async () => {
    expect(await recordWebhookEvent(db.pool, event('evt_1'))).toBe(true);
    expect(await recordWebhookEvent(db.pool, event('evt_1'))).toBe(false); // a redelivery finds the row
    expect(await rows()).toBe(1);
    // The first handler's claim is live: nobody else may signal.
    expect(await takeOverWebhookEvent(db.pool, 'evt_1', WINDOW)).toBe(false);
    const live = await readWebhookEvent(db.pool, 'evt_1', WINDOW);
    expect(live?.signalled).toBe(false);
    expect(live?.claimExpiresInSeconds).toBeGreaterThan(WINDOW - 2);
    expect(live?.claimExpiresInSeconds).toBeLessThanOrEqual(WINDOW);
    // Its signal failed: it releases; the next delivery takes over at once, and only one of two racing ones does.
    expect(await releaseWebhookEventClaim(db.pool, 'evt_1')).toBe(true);
    expect(await readWebhookEvent(db.pool, 'evt_1', WINDOW)).toEqual({ signalled: false, claimExpiresInSeconds: 0 });
    const racing = await Promise.all([takeOverWebhookEvent(db.pool, 'evt_1', WINDOW), takeOverWebhookEvent(db.pool, 'evt_1', WINDOW)]);
    expect(racing.filter(Boolean)).toHaveLength(1);
    // Signalled: never taken over again, never released, never marked twice.
    expect(await markWebhookEventSignalled(db.pool, 'evt_1')).toBe(true);
    expect(await markWebhookEventSignalled(db.pool, 'evt_1')).toBe(false);
    expect(await releaseWebhookEventClaim(db.pool, 'evt_1')).toBe(false);
    await db.pool.query(`UPDATE webhook_events SET claimed_at = now() - interval '1 hour'`);
    expect(await takeOverWebhookEvent(db.pool, 'evt_1', WINDOW)).toBe(false);
    expect((await readWebhookEvent(db.pool, 'evt_1', WINDOW))?.signalled).toBe(true);
    expect(await readWebhookEvent(db.pool, 'evt_unknown', WINDOW)).toBeUndefined();
  });

  test('a claim older than the window (its handler crashed) is taken over by exactly one redelivery', async () => {
    await insertAged('evt_crashed_', 1, WINDOW + 1, false);
    const racing = await Promise.all([1, 2, 3].map(() => takeOverWebhookEvent(db.pool, 'evt_crashed_1', WINDOW)));
    expect(racing.filter(Boolean)).toHaveLength(1);
    expect(await takeOverWebhookEvent(db.pool, 'evt_crashed_1', WINDOW)).toBe(false); // the new claim is live
  });
});

describe('pruneWebhookEvents', () => {
  test('deletes rows older than the retention in bounded batches; recent rows and live claims stay', async () => {
    await insertAged('evt_old_', 25, 7200);
    await insertAged('evt_recent_', 3, 60);
    // Received long ago, but claimed just now by a handler still signalling: kept.
    await insertAged('evt_live_', 1, 7200, false);
    await db.pool.query(`UPDATE webhook_events SET claimed_at = now() WHERE event_id = 'evt_live_1'`);
    expect(await rows()).toBe(29);

    expect(await pruneWebhookEvents(db.pool, { olderThanSeconds: 3600, batchSize: 10, maxBatches: 2 })).toBe(20);
    expect(await rows()).toBe(9);
    expect(await pruneWebhookEvents(db.pool, { olderThanSeconds: 3600, batchSize: 10 })).toBe(5);
    expect(await pruneWebhookEvents(db.pool, { olderThanSeconds: 3600, batchSize: 10 })).toBe(0);
    const left = await db.pool.query<{ event_id: string }>('SELECT event_id FROM webhook_events ORDER BY event_id');
    expect(left.rows.map((r) => r.event_id)).toEqual(['evt_live_1', 'evt_recent_1', 'evt_recent_2', 'evt_recent_3']);
  });

  test('with WEBHOOK_EVENTS_RETENTION_SECONDS=1 an event is pruned a second after it arrived (configuration, not code)', async () => {
    const { webhookEventsRetentionSeconds, cleanupBatchSize } = loadConfig({ WEBHOOK_EVENTS_RETENTION_SECONDS: '1' });
    expect(webhookEventsRetentionSeconds).toBe(1);
    for (const id of ['evt_a', 'evt_b', 'evt_c']) {
      expect(await recordWebhookEvent(db.pool, event(id))).toBe(true);
      expect(await markWebhookEventSignalled(db.pool, id)).toBe(true);
    }
    const opts = { olderThanSeconds: webhookEventsRetentionSeconds, batchSize: cleanupBatchSize };
    expect(await pruneWebhookEvents(db.pool, opts)).toBe(0); // just arrived
    await new Promise((r) => setTimeout(r, 1200));
    expect(await recordWebhookEvent(db.pool, event('evt_fresh'))).toBe(true);
    expect(await pruneWebhookEvents(db.pool, opts)).toBe(3);
    expect(await rows()).toBe(1);
    // A redelivery of a pruned event is recorded afresh (the saga ignores a second signal).
    expect(await recordWebhookEvent(db.pool, event('evt_a'))).toBe(true);
  });

  test.each([
    [{ olderThanSeconds: 0, batchSize: 10 }, 'olderThanSeconds'],
    [{ olderThanSeconds: -5, batchSize: 10 }, 'olderThanSeconds'],
    [{ olderThanSeconds: 60, batchSize: 0 }, 'batchSize'],
    [{ olderThanSeconds: 60, batchSize: 1.5 }, 'batchSize'],
  ])('refuses %j', async (opts, field) => {
    await expect(pruneWebhookEvents(db.pool, opts)).rejects.toThrow(InvalidInputError);
    await expect(pruneWebhookEvents(db.pool, opts)).rejects.toThrow(field);
  });
});
