// The transfer saga (apps/wallet/workflow.ts) on the same saga helper and idempotency store as the
// order saga: money moves once, is given back once, and the sum of all balances never changes.
import type { Worker } from '@temporalio/worker';
import type { TransferInput, TransferResult } from '../../apps/wallet/workflow';
import { childWorkerEnv, startChildWorker, type ChildWorker } from '../helpers/child-worker';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { waitFor } from '../helpers/wait';

let stack: OrderStack;
const children: ChildWorker[] = [];
let worker: Worker | undefined;
let total: number;

beforeAll(async () => {
  stack = await createOrderStack();
  await stack.db.pool.query(
    `INSERT INTO wallets (id, balance_cents) VALUES
       ('alice', 10000), ('bob', 500), ('carol', 300), ('dave', 0), ('erin', 7000), ('frank', 100), ('gina', 2500), ('hank', 0)`,
  );
  total = await sumOfBalances();
});
afterAll(async () => {
  for (const c of children) await c.kill('SIGTERM');
  await stack?.stop();
});
afterEach(async () => {
  expect(await sumOfBalances()).toBe(total);
});

/** The event types the transfer's terminal transition wrote to the outbox. */
const outbox = async (transferId: string): Promise<string[]> =>
  (await stack.db.pool.query<{ type: string }>('SELECT type FROM outbox_events WHERE aggregate_id = $1 ORDER BY seq', [transferId])).rows.map((r) => r.type);
const sumOfBalances = (): Promise<number> => stack.count(`SELECT sum(balance_cents) AS n FROM wallets`);
const balance = (id: string): Promise<number> => stack.count(`SELECT balance_cents AS n FROM wallets WHERE id = $1`, [id]);
const ledgerRows = (transferId: string, kind?: string): Promise<number> =>
  stack.count(`SELECT count(*) AS n FROM ledger_entries WHERE transfer_id = $1 AND ($2::text IS NULL OR kind = $2)`, [transferId, kind ?? null]);
/** The outcome the saga recorded when it closed (closeSaga, once, at its terminal state). */
const closedAs = async (transferId: string): Promise<string[]> =>
  (await stack.db.pool.query<{ outcome: string }>('SELECT outcome FROM idempotency_sagas WHERE saga_id = $1', [`transfer-${transferId}`])).rows.map(
    (r) => r.outcome,
  );
const ledgerSum = (transferId: string): Promise<number> =>
  stack.count(`SELECT coalesce(sum(amount_cents), 0) AS n FROM ledger_entries WHERE transfer_id = $1`, [transferId]);

/** The tests after the crash test share one in-process worker, started on first use. */
async function inProcessWorker(): Promise<void> {
  worker ??= await stack.startWorker();
}

async function transfer(input: TransferInput): Promise<TransferResult> {
  const handle = await stack.client.workflow.start('transferFunds', {
    taskQueue: stack.taskQueue,
    workflowId: `transfer-${input.transferId}`,
    args: [input],
  });
  return (await handle.result()) as TransferResult;
}

const workerEnv = (): Record<string, string> => childWorkerEnv(stack, { ACTIVITY_LEASE_MS: '2000' });

// First in the file: it runs on child workers only, before the in-process worker polls the queue.
test('SIGKILL while the credit waits on a lock: a new worker finishes the transfer, each move applied once', async () => {
  const first = await startChildWorker(workerEnv());
  children.push(first);
  const blocker = await stack.db.pool.connect();
  let handle;
  try {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM wallets WHERE id = 'hank' FOR UPDATE`);
    handle = await stack.client.workflow.start('transferFunds', {
      taskQueue: stack.taskQueue,
      workflowId: 'transfer-t-crash',
      args: [{ transferId: 't-crash', from: 'gina', to: 'hank', amountCents: 1500 } satisfies TransferInput],
    });
    await waitFor(
      async () =>
        (await stack.count(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE wallets%'`,
        )) >= 1,
      'the credit to wait on the target wallet row',
    );
    // The debit committed before the credit started.
    expect(await ledgerRows('t-crash', 'debit')).toBe(1);
    await first.kill('SIGKILL');
    expect(first.signalCode).toBe('SIGKILL');
  } finally {
    await blocker.query('COMMIT');
    blocker.release();
  }
  // The killed worker's credit transaction never committed.
  expect(await ledgerRows('t-crash', 'credit')).toBe(0);

  const second = await startChildWorker(workerEnv());
  children.push(second);
  const result = (await handle.result()) as TransferResult;
  expect(result).toEqual({ transferId: 't-crash', status: 'COMPLETED' });
  expect(await ledgerRows('t-crash')).toBe(2);
  expect(await ledgerRows('t-crash', 'debit')).toBe(1);
  expect(await ledgerRows('t-crash', 'credit')).toBe(1);
  expect(await ledgerSum('t-crash')).toBe(0);
  expect(await balance('gina')).toBe(1000);
  expect(await balance('hank')).toBe(1500);
  expect(await stack.store.get({ scope: 'step', key: 'transfer-t-crash/credit' })).toMatchObject({ status: 'completed' });
  expect(await closedAs('t-crash')).toEqual(['COMPLETED']);

  // Hand the queue over to the in-process worker of the remaining tests.
  for (const c of children.splice(0)) await c.kill('SIGTERM');
}, 120_000);

test('happy path: one debit row, one credit row, the money moved', async () => {
  await inProcessWorker();
  const result = await transfer({ transferId: 't-happy', from: 'alice', to: 'bob', amountCents: 2500 });
  expect(result).toEqual({ transferId: 't-happy', status: 'COMPLETED' });
  expect(await ledgerRows('t-happy')).toBe(2);
  expect(await stack.count(`SELECT amount_cents AS n FROM ledger_entries WHERE transfer_id = 't-happy' AND kind = 'debit' AND wallet_id = 'alice'`)).toBe(
    -2500,
  );
  expect(await stack.count(`SELECT amount_cents AS n FROM ledger_entries WHERE transfer_id = 't-happy' AND kind = 'credit' AND wallet_id = 'bob'`)).toBe(2500);
  expect(await balance('alice')).toBe(7500);
  expect(await balance('bob')).toBe(3000);
  expect(await closedAs('t-happy')).toEqual(['COMPLETED']);
  expect(await outbox('t-happy')).toEqual(['transfer.completed']);
});

test('insufficient funds: nothing moves, no ledger rows, COMPENSATED with INSUFFICIENT_FUNDS', async () => {
  await inProcessWorker();
  const result = await transfer({ transferId: 't-poor', from: 'carol', to: 'dave', amountCents: 301 });
  expect(result.status).toBe('COMPENSATED');
  expect(result.reason).toMatch(/^INSUFFICIENT_FUNDS: /);
  expect(await ledgerRows('t-poor')).toBe(0);
  expect(await balance('carol')).toBe(300);
  expect(await balance('dave')).toBe(0);
  expect(await closedAs('t-poor')).toEqual(['COMPENSATED']);
  expect(await outbox('t-poor')).toEqual(['transfer.compensated']);
  // The debit's failure is stored; its compensation found nothing to undo, and the credit never ran.
  expect(await stack.store.get({ scope: 'step', key: 'transfer-t-poor/debit' })).toMatchObject({ status: 'failed' });
  expect(await stack.store.get({ scope: 'step', key: 'transfer-t-poor/credit' })).toBeUndefined();
});

test('a fault after the debit and the credit: both reversed exactly once, balances back', async () => {
  await inProcessWorker();
  const result = await transfer({ transferId: 't-fault', from: 'erin', to: 'frank', amountCents: 4000, options: { failAfterDebit: 'fraud check failed' } });
  expect(result).toEqual({ transferId: 't-fault', status: 'COMPENSATED', reason: 'INJECTED_FAILURE: fraud check failed' });
  for (const kind of ['debit', 'credit', 'debit-reversal', 'credit-reversal']) expect(await ledgerRows('t-fault', kind)).toBe(1);
  expect(await ledgerRows('t-fault')).toBe(4);
  expect(await ledgerSum('t-fault')).toBe(0);
  expect(await stack.count(`SELECT sum(amount_cents) AS n FROM ledger_entries WHERE transfer_id = 't-fault' AND wallet_id = 'erin'`)).toBe(0);
  expect(await stack.count(`SELECT sum(amount_cents) AS n FROM ledger_entries WHERE transfer_id = 't-fault' AND wallet_id = 'frank'`)).toBe(0);
  expect(await balance('erin')).toBe(7000);
  expect(await balance('frank')).toBe(100);
  expect(await closedAs('t-fault')).toEqual(['COMPENSATED']);
  expect(await outbox('t-fault')).toEqual(['transfer.compensated']);
  for (const step of ['debit', 'credit']) {
    expect(await stack.store.get({ scope: 'step', key: `transfer-t-fault/${step}` })).toMatchObject({ status: 'compensated' });
  }
});
