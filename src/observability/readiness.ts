// Readiness (/readyz) of a process that needs Postgres and Temporal: ready only when both answer in time.
import type { Pool } from 'pg';

export type ReadinessDeps = {
  pool: Pool;
  /** Resolves when Temporal answers (e.g. GetSystemInfo on the process's connection). */
  pingTemporal: () => Promise<unknown>;
  /** How long each check may take. Default 2 s. */
  timeoutMs?: number;
};

export type CheckResult = 'ok' | `down: ${string}`;
export type Readiness = { status: 'ready' | 'unavailable'; checks: { database: CheckResult; temporal: CheckResult } };

/** Settles within `ms`: 'ok', or why not. */
async function check(probe: () => Promise<unknown>, ms: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch (err) {
    return `down: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Both checks, run at once; answer 200 when `status` is 'ready', 503 otherwise. */
export async function readiness(deps: ReadinessDeps): Promise<Readiness> {
  const ms = deps.timeoutMs ?? 2000;
  const [database, temporal] = await Promise.all([check(() => deps.pool.query('SELECT 1'), ms), check(deps.pingTemporal, ms)]);
  return { status: database === 'ok' && temporal === 'ok' ? 'ready' : 'unavailable', checks: { database, temporal } };
}
