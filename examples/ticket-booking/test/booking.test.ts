// The booking saga against a real Postgres and a real Temporal, through the installed library only:
// effects are counted in the example's tables and the provider's, never inferred from the result.
import { type ChildProcess, spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import {
  FaultInjector,
  createTestDatabase,
  findPostgres,
  findTemporal,
  type TestDatabase,
  type TestPostgres,
  type TestTemporal,
} from 'idempotent-sagas/testing';
import { addSeats, createTables } from '../src/schema';
import { createBookingWorker } from '../src/worker';
import type { BookingInput, BookingResult, bookTickets } from '../src/workflows';

const SEATS = ['A1', 'A2'];
let postgres: TestPostgres;
let temporal: TestTemporal;
let db: TestDatabase;
let client: Client;
let connection: Connection;
let faults: FaultInjector;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `booking-${randomBytes(4).toString('hex')}`;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  postgres = await findPostgres();
  temporal = await findTemporal();
  db = await createTestDatabase(postgres.adminUrl);
  await createTables(db.pool);
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, namespace: temporal.namespace });
  faults = new FaultInjector();
  ({ worker } = await createBookingWorker({
    pool: db.pool,
    address: temporal.address,
    namespace: temporal.namespace,
    taskQueue,
    leaseMs: 2000,
    hooks: faults.hooks,
    wrapActivities: (activities) => faults.wrap(activities),
  }));
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await db?.drop();
  await temporal?.stop();
  await postgres?.stop();
});

/** A show of its own for each test, so counts never mix. */
async function newShow(): Promise<string> {
  const showId = `show-${randomBytes(4).toString('hex')}`;
  await addSeats(db.pool, showId, SEATS);
  return showId;
}

function book(input: BookingInput, queue = taskQueue) {
  return client.workflow.start<typeof bookTickets>('bookTickets', { taskQueue: queue, workflowId: `booking-${input.bookingId}`, args: [input] });
}

const count = (sql: string, ...params: unknown[]) => db.count(sql, params);
const holds = (bookingId: string) => count(`SELECT count(*) AS n FROM seat_holds WHERE booking_id = $1`, bookingId);
const activeHolds = (bookingId: string) =>
  count(`SELECT count(*) AS n FROM seat_holds WHERE booking_id = $1 AND released_at IS NULL AND ticketed_at IS NULL`, bookingId);
const tickets = (bookingId: string) => count(`SELECT count(*) AS n FROM tickets WHERE booking_id = $1`, bookingId);
const charges = (bookingId: string, status = '%') =>
  count(`SELECT count(*) AS n FROM provider_charges WHERE booking_id = $1 AND status LIKE $2`, bookingId, status);
const chargeCalls = (bookingId: string) => count(`SELECT count(*) AS n FROM provider_calls WHERE idempotency_key = $1`, `booking-${bookingId}/charge`);

void test('happy path: seats held once, charged once, two tickets', async () => {
  const showId = await newShow();
  const result: BookingResult = await (await book({ bookingId: 'happy', showId, seats: SEATS, amountCents: 9000, paymentToken: 'tok_ok' })).result();
  assert.equal(result.status, 'BOOKED');
  assert.equal(await holds('happy'), 2);
  assert.equal(await tickets('happy'), 2);
  assert.equal(await charges('happy', 'captured'), 1);
  assert.equal(await chargeCalls('happy'), 1);
});

void test('payment declined: the hold is released, nothing charged, no tickets', async () => {
  const showId = await newShow();
  const result = await (await book({ bookingId: 'declined', showId, seats: SEATS, amountCents: 9000, paymentToken: 'tok_decline' })).result();
  assert.deepEqual(result, { status: 'CANCELLED', reason: 'card declined' });
  assert.equal(await holds('declined'), 2);
  assert.equal(await activeHolds('declined'), 0);
  assert.equal(await charges('declined', 'captured'), 0);
  assert.equal(await tickets('declined'), 0);
  // The seats are free again: another booking gets them.
  assert.equal((await (await book({ bookingId: 'after-decline', showId, seats: SEATS, amountCents: 9000, paymentToken: 'tok_ok' })).result()).status, 'BOOKED');
});

void test('the hold expires before payment arrives: seats released on the timer, the provider never called', async () => {
  const showId = await newShow();
  const handle = await book({ bookingId: 'expired', showId, seats: SEATS, amountCents: 9000, holdTtlMs: 1500 });
  const result = await handle.result();
  assert.equal(result.status, 'CANCELLED');
  assert.match((result as { reason: string }).reason, /hold expired/);
  assert.equal(await activeHolds('expired'), 0);
  assert.equal(await chargeCalls('expired'), 0);
  assert.equal(await tickets('expired'), 0);
});

void test('payment arriving by signal while the seats are held books them', async () => {
  const showId = await newShow();
  const handle = await book({ bookingId: 'late-pay', showId, seats: SEATS, amountCents: 9000, holdTtlMs: 60_000 });
  await handle.signal('submitPayment', { paymentToken: 'tok_ok' });
  assert.equal((await handle.result()).status, 'BOOKED');
  assert.equal(await charges('late-pay', 'captured'), 1);
});

void test('injected faults (crash before the hold commits, a lost charge reply, transient ticketing errors): every effect once', async () => {
  faults.add('holdSeats', { kind: 'crash-before-commit' }).add('chargeCard', { kind: 'lose-reply' }).add('issueTickets', { kind: 'transient', times: 2 });
  const showId = await newShow();
  const result = await (await book({ bookingId: 'faults', showId, seats: SEATS, amountCents: 9000, paymentToken: 'tok_ok' })).result();
  assert.equal(result.status, 'BOOKED');
  assert.equal(faults.counts('holdSeats').injected['crash-before-commit'], 1);
  assert.equal(faults.counts('chargeCard').injected['lose-reply'], 1);
  assert.equal(faults.counts('issueTickets').injected.transient, 2);
  assert.equal(await holds('faults'), 2, 'the rolled-back hold left nothing; the retry held each seat once');
  assert.equal(await chargeCalls('faults'), 1, 'the lost reply was replayed from the store, not sent again');
  assert.equal(await charges('faults'), 1);
  assert.equal(await tickets('faults'), 2);
});

function startWorkerProcess(queue: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(__dirname, '../src/worker-main.js')], {
    env: { ...process.env, DATABASE_URL: db.url, TEMPORAL_ADDRESS: temporal.address, TASK_QUEUE: queue, LEASE_MS: '2000', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return child;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

void test('worker SIGKILLed mid-charge (the provider applied, the answer never came back): seats held once, charged once', async () => {
  const queue = `${taskQueue}-crash`;
  const showId = await newShow();
  const first = startWorkerProcess(queue, { PROVIDER_ANSWER_DELAY_MS: '30000' });
  const exited = new Promise((r) => first.once('exit', r));
  const handle = await book({ bookingId: 'crash', showId, seats: SEATS, amountCents: 9000, paymentToken: 'tok_ok' }, queue);
  await until('the provider to apply the charge', async () => (await charges('crash', 'captured')) === 1);
  first.kill('SIGKILL');
  await exited;
  const second = startWorkerProcess(queue, {});
  try {
    const result = await handle.result();
    assert.equal(result.status, 'BOOKED');
  } finally {
    second.kill('SIGKILL');
  }
  assert.equal(await holds('crash'), 2);
  assert.equal(await charges('crash'), 1);
  assert.equal(await chargeCalls('crash'), 2, 'the retry asked again with the same key');
  assert.equal(await tickets('crash'), 2);
});
