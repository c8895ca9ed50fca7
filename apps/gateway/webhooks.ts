// Signed webhooks: a pending charge is confirmed after a delay and `charge.succeeded` is POSTed, signed.
// Every event is stored before delivery; redeliveries send the same id and the same bytes, freshly signed.
import type { Pool } from 'pg';
import { withTransaction } from 'idempotent-sagas/store';
import type { Logger } from '../../src/logger';
import { type ChargeRow, toCharge } from './charges';
import { newId } from './ids';
import type { GatewayCharge } from './schemas';
import { SIGNATURE_HEADER, signPayload } from './signature';

export { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, signPayload, verifySignature, type VerifyResult } from './signature';

export type WebhookTarget = { url: string; secret: string; delayMs: number };

export type WebhookEvent = { id: string; type: 'charge.succeeded'; created: number; data: { charge: GatewayCharge } };

export type DeliveryResult = { eventId: string; delivered: boolean; status?: number; error?: string };

type EventRow = { id: string; body: string; attempts: number; delivered_at: Date | null };

const MAX_ATTEMPTS = 5;
const DELIVERY_TIMEOUT_MS = 5_000;

export class WebhookDispatcher {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly target: WebhookTarget,
    private readonly log?: Logger,
  ) {}

  /** After the delay: pending → succeeded (once), then deliver its event. */
  scheduleConfirmation(chargeId: string, delayMs = this.target.delayMs): void {
    this.#later(delayMs, async () => {
      const eventId = await this.confirm(chargeId);
      if (eventId) await this.#deliverWithRetries(eventId, 1);
    });
  }

  /** Resolves a pending charge to succeeded and stores its event; returns the event id (undefined if not pending). */
  async confirm(chargeId: string): Promise<string | undefined> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<ChargeRow>(
        `UPDATE gateway_charges SET status = 'succeeded', resolved_at = now() WHERE id = $1 AND status = 'pending' RETURNING *`,
        [chargeId],
      );
      const row = rows[0];
      if (!row) return undefined;
      const event: WebhookEvent = {
        id: newId('evt'),
        type: 'charge.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: { charge: toCharge(row) },
      };
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO gateway_webhook_events (id, type, charge_id, body) VALUES ($1, $2, $3, $4)
         ON CONFLICT (charge_id, type) DO NOTHING RETURNING id`,
        [event.id, event.type, chargeId, JSON.stringify(event)],
      );
      return inserted.rows[0]?.id;
    });
  }

  /** Sends a stored event (same id, same body), whether or not it was delivered before; undefined if unknown. */
  async deliver(eventId: string): Promise<DeliveryResult | undefined> {
    const { rows } = await this.pool.query<EventRow>('SELECT id, body, attempts, delivered_at FROM gateway_webhook_events WHERE id = $1', [eventId]);
    const event = rows[0];
    if (!event) return undefined;
    const timestamp = Math.floor(Date.now() / 1000);
    let result: DeliveryResult;
    try {
      const res = await fetch(this.target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(this.target.secret, timestamp, event.body) },
        body: event.body,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      result = { eventId, delivered: res.ok, status: res.status };
    } catch (err) {
      result = { eventId, delivered: false, error: err instanceof Error ? err.message : String(err) };
    }
    await this.pool.query(
      `UPDATE gateway_webhook_events SET attempts = attempts + 1, last_status = $2, last_error = $3,
         delivered_at = CASE WHEN $4::boolean THEN coalesce(delivered_at, now()) ELSE delivered_at END
       WHERE id = $1`,
      [eventId, result.status ?? null, result.error ?? null, result.delivered],
    );
    return result;
  }

  /** Schedules what a previous process left unfinished: pending charges and undelivered events. */
  async resume(): Promise<void> {
    const pending = await this.pool.query<{ id: string }>(`SELECT id FROM gateway_charges WHERE status = 'pending'`);
    for (const { id } of pending.rows) this.scheduleConfirmation(id);
    const undelivered = await this.pool.query<{ id: string; attempts: number }>(
      `SELECT id, attempts FROM gateway_webhook_events WHERE delivered_at IS NULL AND attempts < $1`,
      [MAX_ATTEMPTS],
    );
    for (const { id, attempts } of undelivered.rows) this.#later(this.target.delayMs, () => this.#deliverWithRetries(id, attempts + 1));
  }

  /** Stops scheduling, cancels what has not started and waits for what has. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#inflight]);
  }

  async #deliverWithRetries(eventId: string, attempt: number): Promise<void> {
    const result = await this.deliver(eventId);
    if (!result || result.delivered) return;
    this.log?.warn({ ...result, attempt }, 'webhook delivery failed');
    if (attempt < MAX_ATTEMPTS) this.#later(this.target.delayMs * 2 ** attempt, () => this.#deliverWithRetries(eventId, attempt + 1));
  }

  #later(ms: number, job: () => Promise<unknown>): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const run = job()
        .catch((err: unknown) => this.log?.error({ err }, 'webhook job failed'))
        .finally(() => this.#inflight.delete(run));
      this.#inflight.add(run);
    }, ms);
    this.#timers.add(timer);
  }
}
