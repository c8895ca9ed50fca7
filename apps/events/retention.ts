// Retention of the events' bookkeeping (npm run db:cleanup): published outbox rows and shipping's inbox rows
// older than their retention, in bounded batches. An unpublished outbox row is never deleted.
import type { Pool } from 'pg';
import { type PruneOptions, deleteStatement, pruneInBatches } from '../../src/db/prune';

const deletePublishedBatch = deleteStatement(
  `DELETE FROM outbox_events WHERE seq IN (
     SELECT seq FROM outbox_events WHERE published_at < now() - make_interval(secs => $1) ORDER BY seq LIMIT $2)`,
);
const deleteInboxBatch = deleteStatement(
  `DELETE FROM shipping_inbox WHERE event_id IN (
     SELECT event_id FROM shipping_inbox WHERE received_at < now() - make_interval(secs => $1) LIMIT $2)`,
);

/** Outbox rows published longer ago than `olderThanSeconds` (OUTBOX_RETENTION_SECONDS). */
export function pruneOutbox(pool: Pool, opts: PruneOptions): Promise<number> {
  return pruneInBatches(pool, opts, deletePublishedBatch);
}

/**
 * Shipping's inbox rows received longer ago than `olderThanSeconds` (INBOX_RETENTION_SECONDS): keep them longer
 * than a copy can still arrive (a redelivery comes within the ack wait's retries; a relay re-publishes only
 * until it has marked the row).
 */
export function pruneInbox(pool: Pool, opts: PruneOptions): Promise<number> {
  return pruneInBatches(pool, opts, deleteInboxBatch);
}
