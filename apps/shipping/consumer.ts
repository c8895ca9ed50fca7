// The shipping service: an example consumer of the order events. Each event is applied in one Postgres
// transaction with the record of its ID in the inbox, and acknowledged after that commit, so the broker's
// at-least-once delivery (redelivery after a crash, a re-published event) applies it exactly once. An
// event it cannot read goes to the dead-letter subject with the reason, and the consumer goes on.
import { AckPolicy, DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/nats-core';
import type { Pool, PoolClient } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { withTransaction } from 'idempotent-sagas/store';
import type { Logger } from '../../src/logger';
import {
  closeBroker,
  connectBroker,
  deadLetterSubject,
  ensureEventStreams,
  eventSubject,
  eventTopology,
  type BrokerOptions,
  type EventTopology,
} from '../events/broker';
import { SagaEvent } from '../events/events';

/** The durable consumer's name; its dead letters go to `saga-events-dlq.shipping`. */
export const SHIPPING_CONSUMER = 'shipping';

export type ShippingConsumerOptions = BrokerOptions & {
  pool: Pool;
  natsUrl: string;
  logger: Logger;
  /** How long the broker waits for an acknowledgement before it redelivers. Default 30 s. */
  ackWaitMs?: number;
  registry?: Registry;
  /** Test hooks: after an event's effect committed, before its acknowledgement (a crash there redelivers it). */
  hooks?: { afterApply?: (event: SagaEvent) => Promise<void> };
};

export type ShippingCounts = { applied: number; duplicates: number; redelivered: number; deadLettered: number };

export class ShippingConsumer {
  readonly #opts: ShippingConsumerOptions;
  readonly #topology: EventTopology;
  readonly #metrics: ConsumerMetrics;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;

  private constructor(opts: ShippingConsumerOptions) {
    this.#opts = opts;
    this.#topology = opts.topology ?? eventTopology();
    this.#metrics = new ConsumerMetrics(opts.registry);
  }

  /** Connects, creates the streams and the durable consumer if missing, and starts applying events. */
  static async start(opts: ShippingConsumerOptions): Promise<ShippingConsumer> {
    const consumer = new ShippingConsumer(opts);
    const nc = (consumer.#nc = await connectBroker(opts.natsUrl, 'shipping-consumer'));
    const jsm = await ensureEventStreams(nc, opts).catch(async (err: unknown) => {
      await closeBroker(nc);
      throw err;
    });
    const config = {
      durable_name: SHIPPING_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: `${consumer.#topology.subjectPrefix}.order.>`,
      ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    };
    const { stream } = consumer.#topology;
    const existing = await jsm.consumers.info(stream, SHIPPING_CONSUMER).catch(() => undefined);
    if (!existing) await jsm.consumers.add(stream, config);
    else if (existing.config.ack_wait !== config.ack_wait) await jsm.consumers.update(stream, SHIPPING_CONSUMER, { ack_wait: config.ack_wait });
    consumer.#js = jetstream(nc);
    const source = await consumer.#js.consumers.get(stream, SHIPPING_CONSUMER);
    consumer.#messages = await source.consume({ max_messages: 64 });
    // Ended by stop(), or by the connection closing for good: either way logged, never an unhandled rejection.
    consumer.#loop = consumer.#run(consumer.#messages).catch((err: unknown) => {
      opts.logger.error({ err: String(err) }, 'shipping: the consumer stopped taking events');
    });
    return consumer;
  }

  get counts(): ShippingCounts {
    return { ...this.#metrics.counts };
  }

  /** Stops taking messages; the one being applied finishes (unacknowledged ones are redelivered to the next consumer). */
  async stop(): Promise<void> {
    this.#messages?.stop();
    await this.#loop;
    await closeBroker(this.#nc);
  }

  async #run(messages: ConsumerMessages): Promise<void> {
    for await (const msg of messages) {
      try {
        await this.#handle(msg);
      } catch (err) {
        // Postgres or the broker is away: not acknowledged, so it comes back (after a second here).
        this.#opts.logger.warn({ err: String(err), seq: msg.seq }, 'shipping: could not apply an event; it will be redelivered');
        msg.nak(1000);
      }
    }
  }

  async #handle(msg: JsMsg): Promise<void> {
    if (msg.redelivered) this.#metrics.redelivered.inc();
    const parsed = parseEvent(msg, this.#topology);
    if (!parsed.ok) {
      await this.#deadLetter(msg, parsed.reason);
      return;
    }
    const event = parsed.event;
    const applied = await withTransaction(this.#opts.pool, async (client) => {
      const { rowCount } = await client.query('INSERT INTO shipping_inbox (event_id, type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING', [
        event.eventId,
        event.type,
      ]);
      if (rowCount !== 1) return false; // applied before: acknowledge, apply nothing
      await applyEvent(client, event);
      return true;
    });
    if (applied) {
      this.#metrics.applied.inc({ type: event.type });
      await this.#opts.hooks?.afterApply?.(event);
    } else {
      this.#metrics.duplicates.inc();
    }
    await msg.ackAck();
  }

  async #deadLetter(msg: JsMsg, reason: string): Promise<void> {
    const h = headers();
    h.set('Dead-Letter-Reason', reason.slice(0, 1000));
    h.set('Original-Subject', msg.subject);
    h.set('Original-Stream-Seq', String(msg.seq));
    // The original's stream sequence as the ID: a crash before the ack dead-letters it once, not twice.
    await this.#js!.publish(deadLetterSubject(this.#topology, SHIPPING_CONSUMER), msg.data, { headers: h, msgID: `${this.#topology.stream}:${msg.seq}` });
    this.#metrics.deadLettered.inc();
    this.#opts.logger.warn({ seq: msg.seq, subject: msg.subject, reason }, 'shipping: dead-lettered an event it cannot read');
    await msg.ackAck();
  }
}

function parseEvent(msg: JsMsg, topology: EventTopology): { ok: true; event: SagaEvent } | { ok: false; reason: string } {
  let body: unknown;
  try {
    body = JSON.parse(msg.string());
  } catch (err) {
    return { ok: false, reason: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const result = SagaEvent.safeParse(body);
  if (!result.success) return { ok: false, reason: `schema: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  if (eventSubject(topology, result.data.type) !== msg.subject) return { ok: false, reason: `type ${result.data.type} on subject ${msg.subject}` };
  return { ok: true, event: result.data };
}

/** Shipping's effect: a shipment for a completed order, a cancellation for a compensated one. */
async function applyEvent(client: PoolClient, event: SagaEvent): Promise<void> {
  if (event.type === 'order.completed' || event.type === 'order.compensated') {
    const kind = event.type === 'order.completed' ? 'shipment' : 'cancellation';
    await client.query('INSERT INTO shipping_actions (order_id, kind, event_id) VALUES ($1, $2, $3)', [event.payload.orderId, kind, event.eventId]);
  }
}

class ConsumerMetrics {
  readonly counts: ShippingCounts = { applied: 0, duplicates: 0, redelivered: 0, deadLettered: 0 };
  readonly applied: { inc: (labels: { type: string }) => void };
  readonly duplicates: { inc: () => void };
  readonly redelivered: { inc: () => void };
  readonly deadLettered: { inc: () => void };

  constructor(registry: Registry | undefined) {
    const registers = registry ? [registry] : [];
    const counted = (name: keyof ShippingCounts, counter: Counter) => ({
      inc: (labels?: { type: string }) => {
        this.counts[name] += 1;
        if (labels) counter.inc(labels);
        else counter.inc();
      },
    });
    this.applied = counted(
      'applied',
      new Counter({ name: 'inbox_events_applied_total', help: 'Events applied (effect and inbox row committed)', labelNames: ['type'], registers }),
    );
    this.duplicates = counted(
      'duplicates',
      new Counter({ name: 'inbox_duplicates_dropped_total', help: 'Events acknowledged without being applied: their ID was already in the inbox', registers }),
    );
    this.redelivered = counted(
      'redelivered',
      new Counter({ name: 'inbox_events_redelivered_total', help: 'Deliveries the broker marked as redeliveries', registers }),
    );
    this.deadLettered = counted(
      'deadLettered',
      new Counter({
        name: 'inbox_events_dead_lettered_total',
        help: 'Events sent to the dead-letter subject (unreadable or not matching the schema)',
        registers,
      }),
    );
  }
}
