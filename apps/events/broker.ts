// The broker side of events: connecting to NATS (reconnecting for as long as the process lives), the
// names of things on it, and the two JetStream streams, created at start when missing: SAGA_EVENTS (every
// event, in outbox order, on `saga-events.<type>`) and SAGA_EVENTS_DLQ (what a consumer could not read, with
// the reason, on `saga-events-dlq.<consumer>`). Another stream name (EVENTS_STREAM) gives a run its own set.
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { EventType } from './events';

export const DEFAULT_EVENTS_STREAM = 'SAGA_EVENTS';

/** The names on the broker that one stream name decides. */
export type EventTopology = {
  /** Every event, in outbox order. */
  stream: string;
  /** Its subjects: `<subjectPrefix>.<type>`. */
  subjectPrefix: string;
  /** What consumers dead-letter. */
  deadLetterStream: string;
  /** Its subjects: `<deadLetterPrefix>.<consumer>`. */
  deadLetterPrefix: string;
};

/** SAGA_EVENTS → subjects `saga-events.>`, dead letters in SAGA_EVENTS_DLQ on `saga-events-dlq.>`. */
export function eventTopology(stream = DEFAULT_EVENTS_STREAM): EventTopology {
  const subjectPrefix = stream.toLowerCase().replace(/_/g, '-');
  return { stream, subjectPrefix, deadLetterStream: `${stream}_DLQ`, deadLetterPrefix: `${subjectPrefix}-dlq` };
}

/** `saga-events.order.completed`: consumers filter by type; one stream keeps every event in outbox order. */
export function eventSubject(topology: EventTopology, type: EventType): string {
  return `${topology.subjectPrefix}.${type}`;
}

/** Where consumer `consumer` sends what it cannot read. */
export function deadLetterSubject(topology: EventTopology, consumer: string): string {
  return `${topology.deadLetterPrefix}.${consumer}`;
}
/** The broker drops a second publication of an event ID within this window (JetStream's own default). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

export type BrokerOptions = {
  /** The stream and subjects (default SAGA_EVENTS). */
  topology?: EventTopology;
  /** How long the broker remembers an event ID to drop a re-publication (Nats-Msg-Id). */
  duplicateWindowMs?: number;
};

/** A connection that keeps reconnecting (a broker restart is a pause, not an end), named for the server's monitoring. */
export function connectBroker(url: string, name: string): Promise<NatsConnection> {
  return connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: false });
}

/** Drains the connection (in-flight acks and publishes finish) within 2 s, then closes it: a broker that is down cannot keep it open. */
export async function closeBroker(nc: NatsConnection | undefined): Promise<void> {
  if (!nc) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([nc.drain().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}

/** Creates the event and dead-letter streams when missing; an existing stream keeps its settings but its duplicate window. */
export async function ensureEventStreams(nc: NatsConnection, opts: BrokerOptions = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const duplicateWindow = nanos(opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
  const t = opts.topology ?? eventTopology();
  await ensureStream(jsm, t.stream, [`${t.subjectPrefix}.>`], duplicateWindow);
  await ensureStream(jsm, t.deadLetterStream, [`${t.deadLetterPrefix}.>`], duplicateWindow);
  return jsm;
}

/** How many messages `stream` holds (re-publications past the duplicate window included). */
export async function streamMessageCount(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url, name: 'event-stream-count', reconnect: false });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Deletes a run's two streams (the demo's own, at its end). */
export async function deleteEventStreams(url: string, topology: EventTopology): Promise<void> {
  const nc = await connect({ servers: url, name: 'event-streams-cleanup', reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of [topology.stream, topology.deadLetterStream]) await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

async function ensureStream(jsm: JetStreamManager, name: string, subjects: string[], duplicateWindow: number): Promise<void> {
  const existing = await jsm.streams.info(name).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!existing) {
    try {
      await jsm.streams.add({ name, subjects, storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: duplicateWindow });
      return;
    } catch (err) {
      // Another process created it between our look and our add: theirs is as good as ours.
      if (!/already in use|already exists/i.test(String(err))) throw err;
    }
  }
  const info = existing ?? (await jsm.streams.info(name));
  if (info.config.duplicate_window !== duplicateWindow) await jsm.streams.update(name, { ...info.config, duplicate_window: duplicateWindow });
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(String(err));
}
