// POST /v1/orders (Idempotency-Key, DESIGN §8), GET /v1/orders/{id}, POST /v1/orders/{id}/cancel.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { totalCents } from '../../domain/catalog';
import type { OrderStatus } from '../../domain/types';
import {
  ORDER_NOT_CANCELLABLE,
  ORDER_SAGA_SHAPE,
  cancelOrderUpdate,
  sagaStateQuery,
  type OrderSagaState,
  type PlaceOrderResult,
} from '../../workflows/messages';
import type { PlaceOrderInput } from '../../workflows/place-order';
import type { ApiContext } from '../context';
import { headerOccurrences, idempotentRoute, type IdempotencyRefusal, type StoredResponse } from 'idempotent-sagas/fastify';
import { HTTP_LEASE_MS, HTTP_SCOPE, orderIdFor, workflowIdFor } from '../http-idempotency';
import { STARTS_RUNNING } from '../../../worker/search-attributes';
import { preferredWait } from '../prefer';
import { Problem, sendProblem, type ProblemKind } from '../problems';
import {
  CancelAnswerSchema,
  CancelBodySchema,
  CreateOrderBodySchema,
  CreateOrderHeadersSchema,
  type CreateOrderBody,
  OrderAcceptedSchema,
  OrderIdParamsSchema,
  OrderOutcomeSchema,
  OrderViewSchema,
  ProblemSchema,
  type OrderView,
} from '../schemas';

const ORDERS_ROUTE = '/v1/orders';
const SAGA_QUERY_TIMEOUT_MS = 3000;
/** The app's problem for each refusal of the Idempotency-Key handling. */
const REFUSALS: Record<IdempotencyRefusal, ProblemKind> = {
  'key-missing': Problem.IdempotencyKeyMissing,
  'key-invalid': Problem.IdempotencyKeyInvalid,
  'key-in-use': Problem.IdempotencyKeyInUse,
  'key-reused': Problem.IdempotencyKeyReused,
};

type OrderRow = {
  id: string;
  workflow_id: string;
  status: OrderStatus;
  items: Array<{ sku: string; quantity: number }>;
  total_cents: number;
  currency: string;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
};

export const orderRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const { store, metrics } = ctx;
    const { client, taskQueue, eagerStart } = ctx.temporal;

    const idempotency = idempotentRoute({
      store,
      scope: HTTP_SCOPE,
      leaseMs: HTTP_LEASE_MS,
      tenantOf: (request) => ctx.tenantOf(request).id,
      ownerOf: (request) => `api:${ctx.instanceId}:${request.id}`,
      refuse: (reply, refusal, detail) => sendProblem(reply, REFUSALS[refusal], { detail }),
      onOutcome: (outcome) => metrics.httpIdempotency.inc({ outcome }),
      // Prefer: wait (first request or replay): the saga's outcome if it ends within the wait. Never stored:
      // the stored answer stays the 202, which is what a replay without the preference gets, byte for byte.
      present: async (request, stored) => {
        const wait = preferredWait(request.headers.prefer);
        if (wait === undefined || stored.statusCode !== 202) return stored;
        const accepted = JSON.parse(stored.body) as { orderId: string; workflowId: string; links: { self: string; cancel: string } };
        const headers = { ...stored.headers, 'preference-applied': `wait=${wait}` };
        const result = await outcomeWithin(accepted.workflowId, wait * 1000);
        if (!result) return { ...stored, headers };
        const { orderId, workflowId, links } = accepted;
        return { statusCode: 200, headers, body: JSON.stringify({ ...result, orderId, workflowId, links }) };
      },
    });

    /** The saga's result if it ends within `ms`; undefined otherwise (still running, parked, or cancelled). */
    const outcomeWithin = async (workflowId: string, ms: number): Promise<PlaceOrderResult | undefined> => {
      const deadline = AbortSignal.timeout(ms); // ends the long poll too, not only our wait
      try {
        return await client.withAbortSignal(deadline, () => client.workflow.getHandle(workflowId).result() as Promise<PlaceOrderResult>);
      } catch {
        return undefined; // the wait ran out, or the workflow ended in failure (cancelled): the order's GET tells the rest
      }
    };

    app.post(
      ORDERS_ROUTE,
      {
        schema: {
          summary: 'Place an order (idempotent by the Idempotency-Key header)',
          headers: CreateOrderHeadersSchema,
          body: CreateOrderBodySchema,
          response: {
            200: OrderOutcomeSchema.describe('With Prefer: wait, the saga ended within the wait: its outcome (Preference-Applied: wait=N)'),
            202: OrderAcceptedSchema.describe('Accepted; replays carry Idempotent-Replayed: true'),
            400: ProblemSchema,
            401: ProblemSchema,
            409: ProblemSchema.describe('The first request with this key is in progress; see Retry-After'),
            422: ProblemSchema.describe('The key was used with a different body'),
          },
        },
        // Checked before the body is even parsed: auth (401) → key (400) → body (400).
        onRequest: [
          idempotency.onRequest,
          async (request, reply) => {
            // Node keeps only the first of two Content-Types: refuse rather than guess.
            if (headerOccurrences(request.raw.rawHeaders, 'content-type') > 1) {
              return sendProblem(reply, Problem.BadRequest, { detail: 'send exactly one Content-Type header' });
            }
          },
        ],
      },
      idempotency.handler<{ Body: CreateOrderBody }>(async (request, claim): Promise<StoredResponse> => {
        const tenant = ctx.tenantOf(request);
        const body = request.body;
        // The record's generation, not only (tenant, key): a key reused after its retention names a new order.
        const orderId = orderIdFor(tenant.id, claim.idempotencyKey, claim.generation);
        const workflowId = workflowIdFor(orderId);
        const input: PlaceOrderInput = {
          orderId,
          tenantId: tenant.id,
          items: body.items,
          currency: 'EUR',
          paymentToken: body.paymentToken,
          shape: ORDER_SAGA_SHAPE,
          ...(ctx.sagaOptions && { options: ctx.sagaOptions }),
        };
        // What the Temporal UI shows for the workflow: order, tenant and total; the items as details.
        const total = await totalCents(ctx.pool, body.items);
        const staticSummary = `order ${orderId} · tenant ${tenant.name} (${tenant.id}) · ${total === undefined ? 'total unknown' : `${(total / 100).toFixed(2)} ${input.currency}`}`;
        const staticDetails = body.items.map((i) => `${i.sku} × ${i.quantity}`).join(', ');
        try {
          // A retry after a crash finds the saga it already started (running: USE_EXISTING; closed: REJECT_DUPLICATE).
          await client.workflow.start('placeOrder', {
            taskQueue,
            workflowId,
            args: [input],
            memo: { tenantId: tenant.id },
            ...STARTS_RUNNING,
            staticSummary,
            staticDetails,
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            workflowIdConflictPolicy: 'USE_EXISTING',
            // npm start: the first workflow task goes straight to the worker in this process, not through matching.
            ...(eagerStart && { requestEagerStart: true }),
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
        // Test-only fault (API_FAULT_PAUSE_AFTER_START_MS, off by default): widen the window between
        // starting the saga and storing the response, so a test can kill the process inside it.
        if (ctx.faultPauseAfterStartMs > 0) await new Promise((resolve) => setTimeout(resolve, ctx.faultPauseAfterStartMs));

        const location = `${ORDERS_ROUTE}/${orderId}`;
        // Only (tenant, key)-derived values: a takeover after a crash builds the very same bytes.
        return {
          statusCode: 202,
          headers: { location },
          body: JSON.stringify({ orderId, status: 'PENDING', workflowId, links: { self: location, cancel: `${location}/cancel` } }),
        };
      }),
    );

    /** The tenant's order: its row, or (cancelled before the row existed) its workflow, recognised by the tenant memo. */
    const findOrder = async (
      tenantId: string,
      orderId: string,
    ): Promise<{ row: OrderRow | undefined; handle: WorkflowHandle; closedStatus?: string } | undefined> => {
      const { rows } = await ctx.pool.query<OrderRow>(
        `SELECT id, workflow_id, status, items, total_cents, currency, failure_reason, created_at, updated_at
           FROM orders WHERE id = $1 AND tenant_id = $2`,
        [orderId, tenantId],
      );
      const row = rows[0];
      if (row) return { row, handle: client.workflow.getHandle(row.workflow_id) };
      const handle = client.workflow.getHandle(workflowIdFor(orderId));
      try {
        const description = await handle.describe();
        if (description.memo?.tenantId !== tenantId) return undefined;
        return { row: undefined, handle };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    };

    const sagaStateOf = async (handle: WorkflowHandle): Promise<OrderSagaState | null> => {
      try {
        return await client.withDeadline(Date.now() + SAGA_QUERY_TIMEOUT_MS, () => handle.query(sagaStateQuery));
      } catch (err) {
        // No worker to answer, or no workflow (an order row written by other means): the row still answers.
        app.log.debug({ err, workflowId: handle.workflowId }, 'saga state query failed');
        return null;
      }
    };

    app.get(
      `${ORDERS_ROUTE}/:id`,
      {
        schema: {
          summary: 'An order with its saga state',
          params: OrderIdParamsSchema,
          response: { 200: OrderViewSchema, 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (request, reply) => {
        const tenant = ctx.tenantOf(request);
        const found = await findOrder(tenant.id, request.params.id);
        if (!found) return sendProblem(reply, Problem.NotFound, { detail: `no order ${request.params.id}` });
        const saga = await sagaStateOf(found.handle);
        const { row } = found;
        const view: OrderView = row
          ? {
              orderId: row.id,
              status: row.status,
              workflowId: row.workflow_id,
              items: row.items,
              totalCents: row.total_cents,
              currency: row.currency,
              failureReason: row.failure_reason,
              createdAt: row.created_at.toISOString(),
              updatedAt: row.updated_at.toISOString(),
              saga,
            }
          : {
              orderId: request.params.id,
              // No row: the saga was cancelled (or failed) before creating it, or has not created it yet.
              status: saga?.status === 'COMPENSATED' ? 'COMPENSATED' : saga?.status === 'COMPENSATION_STUCK' ? 'COMPENSATION_STUCK' : 'PENDING',
              workflowId: found.handle.workflowId,
              items: null,
              totalCents: null,
              currency: null,
              failureReason: saga?.reason ?? null,
              createdAt: null,
              updatedAt: null,
              saga,
            };
        return reply.code(200).send(view);
      },
    );

    app.post(
      `${ORDERS_ROUTE}/:id/cancel`,
      {
        schema: {
          summary: 'Cancel an order before its pivot (confirmation)',
          params: OrderIdParamsSchema,
          body: CancelBodySchema,
          response: { 202: CancelAnswerSchema, 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (request, reply) => {
        const tenant = ctx.tenantOf(request);
        const found = await findOrder(tenant.id, request.params.id);
        if (!found) return sendProblem(reply, Problem.NotFound, { detail: `no order ${request.params.id}` });
        let answer;
        try {
          answer = await found.handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: request.body?.reason }] });
        } catch (err) {
          // Refused by the saga's validator (after the pivot, or no longer RUNNING): nothing was written to its history.
          if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === ORDER_NOT_CANCELLABLE) {
            return sendProblem(reply, Problem.OrderNotCancellable, { detail: err.cause.message });
          }
          // A closed workflow takes no updates: the order has finished.
          const description = await found.handle.describe().catch(() => undefined);
          if (description && description.status.name !== 'RUNNING') {
            const status = found.row
              ? (await ctx.pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [found.row.id])).rows[0]?.status
              : undefined;
            return sendProblem(reply, Problem.OrderNotCancellable, { detail: `the order has already finished${status ? ` (${status})` : ''}` });
          }
          throw err;
        }
        if (!answer.accepted) return sendProblem(reply, Problem.OrderNotCancellable, { detail: answer.message });
        return reply.code(202).send(answer);
      },
    );
  };
