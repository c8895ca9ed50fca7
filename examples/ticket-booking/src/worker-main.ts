// A worker process (the crash test SIGKILLs it): DATABASE_URL, TEMPORAL_ADDRESS, TASK_QUEUE from the environment.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Pool } from 'pg';
import { createBookingWorker } from './worker';

async function main(): Promise<void> {
  const { DATABASE_URL, TEMPORAL_ADDRESS, TASK_QUEUE } = process.env;
  if (!DATABASE_URL || !TEMPORAL_ADDRESS || !TASK_QUEUE) throw new Error('set DATABASE_URL, TEMPORAL_ADDRESS and TASK_QUEUE');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const pool = new Pool({ connectionString: DATABASE_URL });
  const { worker } = await createBookingWorker({
    pool,
    address: TEMPORAL_ADDRESS,
    taskQueue: TASK_QUEUE,
    providerAnswerDelayMs: Number(process.env.PROVIDER_ANSWER_DELAY_MS ?? 0),
    leaseMs: Number(process.env.LEASE_MS ?? 2000),
  });
  process.stdout.write('worker ready\n');
  await worker.run();
  await pool.end();
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
