// `npm run --silent cli -- sagas list|show|retry|skip`: find stuck sagas and resolve them (docs/runbook.md).
// Reads go through Temporal visibility (the SagaStatus search attribute) and the saga-state query;
// decisions go through the resolveCompensation update, whose validator refuses what the saga cannot act on.
import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type Command } from 'commander';
import { resolveCompensationUpdate, sagaStateQuery, type OperatorDecision, type SagaState, type SagaStatus } from 'idempotent-sagas/workflow';
import { z } from 'zod';
import { loadConfig } from '../config';
import { connectClient } from '../temporal/connection';
import { SAGA_STATUS } from '../../apps/worker/search-attributes';
import { CommandFailed, UsageError } from './run-main';

const SAGA_STATUSES = ['RUNNING', 'COMPENSATING', 'COMPENSATION_STUCK', 'COMPLETED', 'COMPENSATED'] as const satisfies readonly SagaStatus[];
const StatusSchema = z.enum(SAGA_STATUSES);
const ReasonSchema = z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters');
const IdSchema = z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters');
/** An order ID as the API returns it; its saga is `order-<orderId>` (apps/orders/api/http-idempotency.ts). */
const ORDER_ID = /^ord_[0-9a-f]{24}$/;

export type SagaRow = { workflowId: string; runId: string; type: string; sagaStatus: string | null; executionStatus: string; startTime: string };

/** The saga's workflow ID: an order ID maps to its order saga; anything else is taken as a workflow ID. */
export function workflowIdOf(id: string): string {
  return ORDER_ID.test(id) ? `order-${id}` : id;
}

function parsed<T>(schema: z.ZodType<T>, what: string, raw: unknown): T {
  const result = schema.safeParse(raw);
  if (!result.success) throw new UsageError(`${what}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  return result.data;
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { address, namespace } = loadConfig().temporal;
  if (!address) throw new CommandFailed('TEMPORAL_ADDRESS is not set: point it at the Temporal frontend the workers use (npm start and the demo print it)');
  const { client, connection } = await connectClient(address, namespace);
  try {
    return await fn(client);
  } finally {
    await connection.close();
  }
}

/** The sagas Temporal's visibility knows, newest first; those with a status when one is given. */
export async function listSagas(client: Client, status: SagaStatus | undefined, limit: number): Promise<SagaRow[]> {
  const rows: SagaRow[] = [];
  const query = status ? `${SAGA_STATUS.name} = '${status}'` : `${SAGA_STATUS.name} IS NOT NULL`;
  for await (const wf of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
    rows.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      type: wf.type,
      sagaStatus: wf.typedSearchAttributes.get(SAGA_STATUS) ?? null,
      executionStatus: wf.status.name,
      startTime: wf.startTime.toISOString(),
    });
    if (rows.length >= limit) break;
  }
  return rows;
}

/** The saga's state by its query; a clear error for an ID Temporal does not know. */
async function sagaState(client: Client, workflowId: string): Promise<SagaState> {
  try {
    return await client.workflow.getHandle(workflowId).query(sagaStateQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new CommandFailed(`no saga with ID ${JSON.stringify(workflowId)} in namespace ${loadConfig().temporal.namespace}`);
    throw err;
  }
}

/** Sends an operator decision; the saga's validator's refusal (not stuck, no reason) becomes one line. */
async function decide(client: Client, workflowId: string, decision: OperatorDecision): Promise<SagaState> {
  const state = await sagaState(client, workflowId); // an unknown ID fails here, with its own message
  if (state.status !== 'COMPENSATION_STUCK')
    throw new CommandFailed(`saga ${workflowId} is ${state.status}, not COMPENSATION_STUCK: there is nothing to ${decision.action}`);
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(resolveCompensationUpdate, { args: [decision] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
      throw new CommandFailed(`saga ${workflowId} refused the decision: ${err.cause.message}`);
    throw err;
  }
}

/** A fixed-width table; the last column is not padded. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function renderState(workflowId: string, state: SagaState): string {
  const head = [`saga ${workflowId}: ${state.status}${state.pivoted ? ' (past the pivot)' : ''}`];
  if (state.reason) head.push(`reason: ${state.reason}`);
  if (state.stuck) head.push(`stuck on ${state.stuck.stepId} after ${state.stuck.rounds} round(s): ${state.stuck.error}`);
  const rows = state.steps.map((s) => [
    s.stepId,
    s.status,
    s.compensable ? 'yes' : 'no',
    String(s.compensationRounds ?? 0),
    s.skipReason ? `skipped: ${s.skipReason}` : (s.error ?? ''),
  ]);
  return `${head.join('\n')}\n\n${table(['STEP', 'STATUS', 'COMPENSABLE', 'ROUNDS', 'ERROR'], rows)}\n`;
}

/** Adds `sagas list|show|retry|skip` to the operator CLI; `run` receives the chosen command's work. */
export function addSagaCommands(program: Command, run: (action: () => Promise<void>) => void): void {
  const out = (text: string): void => void process.stdout.write(text);
  const sagas = program.command('sagas').description('find and resolve sagas (COMPENSATION_STUCK: see docs/runbook.md)');
  sagas
    .command('list')
    .description('list sagas by their SagaStatus search attribute, newest first')
    .option('--status <status>', `one of ${SAGA_STATUSES.join(', ')}`)
    .option('--limit <n>', 'at most this many (1–10000)', '100')
    .option('--json', 'print a JSON array')
    .action((opts: { status?: string; limit: string; json?: boolean }) => {
      const status = opts.status === undefined ? undefined : parsed(StatusSchema, '--status', opts.status);
      const limit = parsed(z.coerce.number().int().min(1).max(10_000), '--limit', opts.limit);
      run(() =>
        withClient(async (client) => {
          const rows = await listSagas(client, status, limit);
          if (opts.json) return out(`${JSON.stringify(rows)}\n`);
          out(
            `${table(
              ['WORKFLOW ID', 'SAGA STATUS', 'EXECUTION', 'TYPE', 'STARTED'],
              rows.map((r) => [r.workflowId, r.sagaStatus ?? '-', r.executionStatus, r.type, r.startTime]),
            )}\n`,
          );
        }),
      );
    });
  sagas
    .command('show')
    .description("a saga's steps, by its saga-state query")
    .argument('<id>', 'an order ID (ord_…) or a workflow ID')
    .option('--json', 'print the state as JSON')
    .action((id: string, opts: { json?: boolean }) => {
      const workflowId = workflowIdOf(parsed(IdSchema, 'id', id));
      run(() =>
        withClient(async (client) => {
          const state = await sagaState(client, workflowId);
          out(opts.json ? `${JSON.stringify({ workflowId, ...state })}\n` : renderState(workflowId, state));
        }),
      );
    });
  const decision = (name: 'retry' | 'skip', description: string): Command =>
    sagas.command(name).description(description).argument('<id>', 'an order ID (ord_…) or a workflow ID').option('--json', 'print the new state as JSON');
  decision('retry', 'retry the stuck compensation now').action((id: string, opts: { json?: boolean }) => {
    const workflowId = workflowIdOf(parsed(IdSchema, 'id', id));
    run(() => withClient(async (client) => out(answer(workflowId, await decide(client, workflowId, { action: 'retry' }), opts.json))));
  });
  decision('skip', 'skip the stuck compensation (its effect is undone by hand); the reason is recorded')
    .requiredOption('--reason <text>', 'why it is skipped (recorded in the saga)')
    .action((id: string, opts: { reason: string; json?: boolean }) => {
      const workflowId = workflowIdOf(parsed(IdSchema, 'id', id));
      const reason = parsed(ReasonSchema, '--reason', opts.reason);
      run(() => withClient(async (client) => out(answer(workflowId, await decide(client, workflowId, { action: 'skip', reason }), opts.json))));
    });
}

function answer(workflowId: string, state: SagaState, json: boolean | undefined): string {
  return json ? `${JSON.stringify({ workflowId, ...state })}\n` : renderState(workflowId, state);
}
