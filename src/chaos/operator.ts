// Time-compressed faults of a chaos run (DESIGN §10): a refund outage longer than the records' TTL, and
// the harness acting as the operator who retries the sagas it left in COMPENSATION_STUCK.
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { resolveCompensationUpdate } from 'idempotent-sagas/workflow';

const OUTAGE_TICK_MS = 500;
const UPDATE_DEADLINE_MS = 5000;

/**
 * Keeps `refundServerErrorRate: 1` on the gateway for `durationMs`, re-applying it after a restart (a
 * restarted gateway starts from its GATEWAY_FAULTS), then restores the rate the gateway had.
 */
export async function refundOutage(gatewayUrl: string, durationMs: number, stopped: AbortSignal): Promise<{ reapplied: number }> {
  const endsAt = Date.now() + durationMs;
  let reapplied = 0;
  let normalRate: number | undefined;
  const faults = async (body?: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const res = await fetch(`${gatewayUrl}/_admin/faults`, {
      method: body ? 'PUT' : 'GET',
      signal: AbortSignal.timeout(2000),
      ...(body && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`gateway answered ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  while (Date.now() < endsAt && !stopped.aborted) {
    try {
      const current = await faults();
      if (current.refundServerErrorRate !== 1) {
        normalRate ??= typeof current.refundServerErrorRate === 'number' ? current.refundServerErrorRate : 0;
        await faults({ ...current, refundServerErrorRate: 1 });
        reapplied += 1;
      }
    } catch {
      // The gateway is down (being restarted): it is applied again once it answers.
    }
    await new Promise((r) => setTimeout(r, OUTAGE_TICK_MS));
  }
  // Restore, retrying while the gateway restarts; a gateway restarted meanwhile already runs without the outage.
  for (let tries = 0; tries < 20; tries++) {
    try {
      const current = await faults();
      if (current.refundServerErrorRate === 1) await faults({ ...current, refundServerErrorRate: normalRate ?? 0 });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, OUTAGE_TICK_MS));
    }
  }
  return { reapplied };
}

/**
 * One operator sweep: every saga whose order is COMPENSATION_STUCK gets `resolveCompensation retry`.
 * Returns how many decisions were accepted; a refusal (the saga is between rounds, or already decided) is
 * not an error: the next sweep asks again.
 */
export async function retryStuckSagas(pool: Pool, temporalAddress: string): Promise<number> {
  const { rows } = await pool.query<{ workflow_id: string }>(`SELECT workflow_id FROM orders WHERE status = 'COMPENSATION_STUCK'`);
  if (rows.length === 0) return 0;
  const connection = await Connection.connect({ address: temporalAddress, connectTimeout: 2000 });
  try {
    const client = new Client({ connection });
    const accepted = await Promise.all(
      rows.map(({ workflow_id }) =>
        client
          .withDeadline(Date.now() + UPDATE_DEADLINE_MS, () =>
            client.workflow.getHandle(workflow_id).executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] }),
          )
          .then(
            () => 1,
            () => 0,
          ),
      ),
    );
    return accepted.reduce<number>((a, b) => a + b, 0);
  } finally {
    await connection.close();
  }
}
