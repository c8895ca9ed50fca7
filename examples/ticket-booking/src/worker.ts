// A worker for the booking saga: activities on the store and the provider, workflows from workflows.ts.
import { NativeConnection, Worker } from '@temporalio/worker';
import { IdempotencyStore } from 'idempotent-sagas/store';
import type { StepHooks } from 'idempotent-sagas/activity';
import type { Pool } from 'pg';
import { createBookingActivities } from './activities';
import { createPaymentProvider } from './provider';

export type BookingWorkerOptions = {
  pool: Pool;
  address: string;
  namespace?: string;
  taskQueue: string;
  /** Delay of the provider's answer after it applied a charge (ms), to crash a worker in that window. */
  providerAnswerDelayMs?: number;
  leaseMs?: number;
  hooks?: StepHooks;
  /** Wraps the activities (e.g. a FaultInjector's wrap) before they are registered. */
  wrapActivities?: <A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A) => A;
};

export async function createBookingWorker(opts: BookingWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const store = new IdempotencyStore(opts.pool, { defaultTtlSeconds: 7 * 24 * 3600 });
  const provider = createPaymentProvider(opts.pool, { answerDelayMs: opts.providerAnswerDelayMs ?? 0 });
  const activities = createBookingActivities({ store, provider, ...(opts.leaseMs && { leaseMs: opts.leaseMs }), ...(opts.hooks && { hooks: opts.hooks }) });
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: opts.wrapActivities ? opts.wrapActivities(activities) : activities,
  });
  return { worker, connection };
}
