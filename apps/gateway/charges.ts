// Charges: at most one per idempotency key, and every answer for a key is the first answer, byte for byte.
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from 'idempotent-sagas/store';
import type { ChargeOutcome } from './faults';
import { newId } from './ids';
import { lockKey } from './key-lock';
import type { GatewayCharge, GatewayChargeView } from './schemas';

export type ChargeRow = {
  id: string;
  idempotency_key: string;
  fingerprint: string;
  amount: number;
  currency: string;
  payment_token: string;
  order_id: string | null;
  status: GatewayCharge['status'];
  decline_code: string | null;
  response_status: number;
  response_body: string;
  created_at: Date;
};

export type NewCharge = {
  key: string;
  fingerprint: string;
  amount: number;
  currency: string;
  paymentToken: string;
  orderId: string | undefined;
};

/** The stored answer of a charge; `replayed` is false only for the request that created it. */
export type ChargeAnswer = { statusCode: number; body: string; replayed: boolean; charge: GatewayCharge };

export type ChargeResult = { kind: 'answer'; answer: ChargeAnswer } | { kind: 'fingerprint_mismatch'; chargeId: string } | { kind: 'key_aborted' };

const STATUS_CODE: Record<GatewayCharge['status'], number> = { succeeded: 201, declined: 402, pending: 202 };

export function toCharge(row: ChargeRow): GatewayCharge {
  // Fixed member order: the stored body is what every replay sends.
  return {
    id: row.id,
    status: row.status,
    amount: row.amount,
    currency: row.currency,
    idempotencyKey: row.idempotency_key,
    orderId: row.order_id,
    declineCode: row.decline_code,
    createdAt: row.created_at.toISOString(),
  };
}

function answerFrom(row: ChargeRow, replayed: boolean): ChargeAnswer {
  const stored = JSON.parse(row.response_body) as GatewayCharge;
  return { statusCode: row.response_status, body: row.response_body, replayed, charge: stored };
}

async function selectByKey(client: PoolClient, key: string): Promise<ChargeRow | undefined> {
  const { rows } = await client.query<ChargeRow>('SELECT * FROM gateway_charges WHERE idempotency_key = $1', [key]);
  return rows[0];
}

/** Counts one valid attempt for `key` and returns its number (1 for the first). */
export async function recordAttempt(pool: Pool, key: string): Promise<number> {
  const { rows } = await pool.query<{ attempts: number }>(
    `INSERT INTO gateway_key_attempts (idempotency_key, attempts) VALUES ($1, 1)
     ON CONFLICT (idempotency_key) DO UPDATE SET attempts = gateway_key_attempts.attempts + 1, last_at = now()
     RETURNING attempts`,
    [key],
  );
  return rows[0]!.attempts;
}

/**
 * Creates the charge for `input.key` with `outcome`, or answers from the charge that key already has.
 * One transaction under the key's lock: a tombstone refuses, a stored charge replays (or mismatches).
 * With `ignoreKeys` (a provider that honours no Idempotency-Key) a stored charge is not replayed: the
 * request is applied again, and only the database's unique key, where present, stops a second row.
 */
export function chargeOnce(pool: Pool, input: NewCharge, outcome: ChargeOutcome, ignoreKeys = false): Promise<ChargeResult> {
  return withTransaction(pool, async (client): Promise<ChargeResult> => {
    await lockKey(client, input.key);
    const tomb = await client.query('SELECT 1 FROM gateway_key_tombstones WHERE idempotency_key = $1', [input.key]);
    if (tomb.rowCount) return { kind: 'key_aborted' };
    const existing = ignoreKeys ? undefined : await selectByKey(client, input.key);
    if (existing) return replayOrMismatch(existing, input.fingerprint);

    const row: ChargeRow = {
      id: newId('ch'),
      idempotency_key: input.key,
      fingerprint: input.fingerprint,
      amount: input.amount,
      currency: input.currency,
      payment_token: input.paymentToken,
      order_id: input.orderId ?? null,
      status: outcome.status,
      decline_code: outcome.status === 'declined' ? outcome.declineCode : null,
      response_status: STATUS_CODE[outcome.status],
      response_body: '',
      created_at: new Date(),
    };
    row.response_body = JSON.stringify(toCharge(row));
    // The unique key is the second line of defence: even without the lock, a key never gets two rows.
    // No conflict target: the statement also runs where that constraint was dropped (chaos --provider-ignores-keys).
    const inserted = await client.query(
      `INSERT INTO gateway_charges (id, idempotency_key, fingerprint, amount, currency, payment_token, order_id,
         status, decline_code, response_status, response_body, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT DO NOTHING`,
      [
        row.id,
        row.idempotency_key,
        row.fingerprint,
        row.amount,
        row.currency,
        row.payment_token,
        row.order_id,
        row.status,
        row.decline_code,
        row.response_status,
        row.response_body,
        row.created_at,
      ],
    );
    if (inserted.rowCount === 1) return { kind: 'answer', answer: answerFrom(row, false) };
    const winner = await selectByKey(client, input.key);
    if (!winner) throw new Error(`charge for key ${input.key} conflicted but cannot be read`);
    return replayOrMismatch(winner, input.fingerprint);
  });
}

function replayOrMismatch(row: ChargeRow, fingerprint: string): ChargeResult {
  if (row.fingerprint !== fingerprint) return { kind: 'fingerprint_mismatch', chargeId: row.id };
  return { kind: 'answer', answer: answerFrom(row, true) };
}

type ViewRow = ChargeRow & { refund_id: string | null };

const VIEW_SQL = `SELECT c.*, r.id AS refund_id FROM gateway_charges c LEFT JOIN gateway_refunds r ON r.charge_id = c.id`;

function toView(row: ViewRow): GatewayChargeView {
  return { ...toCharge(row), refunded: row.refund_id !== null, refundId: row.refund_id };
}

export type ChargeLookup = { charge: GatewayChargeView; tombstoned: false } | { charge: undefined; tombstoned: boolean };

/** The current state of the charge for `key`, or whether a tombstone holds the key instead. */
export async function findChargeByKey(pool: Pool, key: string): Promise<ChargeLookup> {
  const { rows } = await pool.query<ViewRow>(`${VIEW_SQL} WHERE c.idempotency_key = $1 ORDER BY c.created_at, c.id`, [key]);
  if (rows[0]) return { charge: toView(rows[0]), tombstoned: false };
  const tomb = await pool.query('SELECT 1 FROM gateway_key_tombstones WHERE idempotency_key = $1', [key]);
  return { charge: undefined, tombstoned: (tomb.rowCount ?? 0) > 0 };
}

export async function findChargeById(pool: Pool, id: string): Promise<GatewayChargeView | undefined> {
  const { rows } = await pool.query<ViewRow>(`${VIEW_SQL} WHERE c.id = $1`, [id]);
  return rows[0] ? toView(rows[0]) : undefined;
}
