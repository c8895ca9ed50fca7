// The orders API (DESIGN §8), built without listening: tests use app.inject, main.ts listens.
import { traceRequests } from '../../../src/observability/tracing';
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import { ServiceError } from '@temporalio/client';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import pino from 'pino';
import { DEV_WEBHOOK_SECRET } from '../../../src/config';
import { DEFAULT_TOLERANCE_SECONDS } from '../../gateway/signature';
import { findTenantByApiKey, type Tenant } from '../domain/tenants';
import type { IdempotencyStore } from 'idempotent-sagas/store';
import type { Logger } from '../../../src/logger';
import type { ApiContext, ApiTemporal } from './context';
import { createApiMetrics, type ApiMetrics } from './metrics';
import { finishOpenApi } from './openapi';
import { PROBLEM_CONTENT_TYPE, Problem, problemBody, sendProblem, type FieldError, type ProblemKind } from './problems';
import { catalogRoutes } from './routes/catalog';
import { orderRoutes } from './routes/orders';
import { webhookRoutes, type WebhookOptions } from './routes/webhooks';
import { HealthSchema, ReadySchema } from './schemas';
import { readiness } from '../../../src/observability/readiness';
import type { SagaLifetimeOptions } from 'idempotent-sagas/workflow';

export type ApiDeps = {
  pool: Pool;
  store: IdempotencyStore;
  temporal: ApiTemporal;
  logger?: Logger;
  /** Metrics of this instance; by default a fresh registry (with process metrics when `processMetrics`). */
  metrics?: ApiMetrics;
  processMetrics?: boolean;
  /** Test-only fault: ms POST /v1/orders waits between starting the saga and storing its response (default 0, off). */
  faultPauseAfterStartMs?: number;
  /** Verifies POST /v1/webhooks/payments; by default the development secret and a 300 s tolerance. */
  webhook?: WebhookOptions;
  /** How the sagas this API starts handle a stuck compensation (config.saga); the workflow's defaults when absent. */
  sagaOptions?: SagaLifetimeOptions;
};

/** Fastify's own client errors, mapped to problems; any other 4xx is `bad-request`. */
const FASTIFY_CLIENT_ERRORS: Record<string, ProblemKind> = {
  FST_ERR_CTP_INVALID_JSON_BODY: Problem.MalformedJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: Problem.MalformedJson,
  FST_ERR_CTP_BODY_TOO_LARGE: Problem.PayloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: Problem.UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: Problem.BadRequest,
};

const BODY_LIMIT = 64 * 1024;

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (control characters in a header,
 * a conflicting Content-Length and Transfer-Encoding, headers too large): answered as problems too.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const kind =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? { slug: 'request-header-fields-too-large', title: 'The request headers are too large', status: 431 }
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? { slug: 'request-timeout', title: 'The request took too long to arrive', status: 408 }
        : Problem.BadRequest;
  const body = JSON.stringify(problemBody(kind, { detail: 'the request is not valid HTTP/1.1' }));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${kind.status} ${kind.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The router's own refusals (a malformed percent-encoding, a path parameter over 100 characters), as problems. */
function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode ?? 500;
  const kind =
    status === 414
      ? { slug: 'uri-too-long', title: 'The URL is too long', status }
      : status >= 400 && status < 500
        ? { ...Problem.BadRequest, status }
        : Problem.InternalError;
  void sendProblem(reply.code(kind.status), kind, kind.status < 500 ? { detail: err.message } : {});
}

function bearerKey(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
  return m?.[1];
}

export function buildApiApp(deps: ApiDeps): FastifyInstance {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({ loggerInstance, bodyLimit: BODY_LIMIT, clientErrorHandler, frameworkErrors }).withTypeProvider<ZodTypeProvider>();
  traceRequests(app); // a server span per request: no-ops while tracing is off
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain body is refused with 415 instead of reaching the schema as a string.
  app.removeContentTypeParser('text/plain');
  // JSON must be UTF-8 (RFC 8259): invalid bytes are malformed JSON, not silently replaced by U+FFFD.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    if (!isUtf8(body)) {
      return done(Object.assign(new Error('the body is not valid UTF-8'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), undefined);
    }
    void parseJson(request, body.toString('utf8'), done);
  });

  const metrics = deps.metrics ?? createApiMetrics({ pool: deps.pool, storeCounters: deps.store.counters, defaultMetrics: deps.processMetrics ?? false });
  const tenants = new WeakMap<FastifyRequest, Tenant>();
  const ctx: ApiContext = {
    pool: deps.pool,
    store: deps.store,
    temporal: deps.temporal,
    metrics,
    instanceId: randomBytes(6).toString('hex'),
    faultPauseAfterStartMs: deps.faultPauseAfterStartMs ?? 0,
    sagaOptions: deps.sagaOptions,
    tenantOf: (request) => {
      const tenant = tenants.get(request);
      if (!tenant) throw new Error('route reached without an authenticated tenant');
      return tenant;
    },
  };

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const errors: FieldError[] = err.validation.map((v) => ({
        field: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message ?? 'is invalid',
      }));
      return sendProblem(reply, Problem.ValidationError, { detail: `the ${where} does not match the schema`, errors });
    }
    if (err instanceof ServiceError) {
      request.log.warn({ err }, 'temporal unavailable');
      return sendProblem(reply.header('retry-after', '1'), Problem.ServiceUnavailable);
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const kind = FASTIFY_CLIENT_ERRORS[err.code] ?? Problem.BadRequest;
      // Fastify's messages for its own client errors describe the request, never the server.
      return sendProblem(reply.code(status), kind.status === status ? kind : { ...Problem.BadRequest, status }, { detail: err.message });
    }
    request.log.error({ err }, 'request failed');
    return sendProblem(reply, Problem.InternalError);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, Problem.NotFound, { detail: `no route ${request.method} ${request.url.split('?')[0]}` }));

  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'idempotent-sagas orders API',
        version: '1.0.0',
        description: 'Orders placed as Temporal sagas; POST /v1/orders is idempotent by Idempotency-Key.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'sk_… API key' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: (derived) => ('openapiObject' in derived ? finishOpenApi(derived.openapiObject) : derived.swaggerObject),
  });

  void app.register(async (v1) => {
    // Every /v1 route: a valid bearer key or 401, before anything is parsed or recorded.
    v1.addHook('onRequest', async (request, reply) => {
      const key = bearerKey(request.headers.authorization);
      const tenant = key === undefined ? undefined : await findTenantByApiKey(deps.pool, key);
      if (!tenant) {
        reply.header('www-authenticate', 'Bearer');
        return sendProblem(reply, Problem.Unauthorized, { detail: 'send Authorization: Bearer <api key>' });
      }
      tenants.set(request, tenant);
    });
    await v1.register(orderRoutes(ctx));
    await v1.register(catalogRoutes(ctx));
  });

  // Not under the bearer hook: the gateway authenticates by signing the raw body.
  void app.register(
    webhookRoutes({
      pool: deps.pool,
      client: deps.temporal.client,
      webhook: deps.webhook ?? { secret: DEV_WEBHOOK_SECRET, toleranceSeconds: DEFAULT_TOLERANCE_SECONDS },
    }),
  );

  void app.register(async (open) => {
    open.get('/healthz', { schema: { summary: 'Liveness', response: { 200: HealthSchema } } }, async () => ({ status: 'ok' as const }));
    open.get(
      '/readyz',
      { schema: { summary: 'Readiness: Postgres and Temporal answer', response: { 200: ReadySchema, 503: ReadySchema } } },
      async (_request, reply) => {
        const ready = await readiness({ pool: deps.pool, pingTemporal: () => deps.temporal.client.workflowService.getSystemInfo({}) });
        return reply.code(ready.status === 'ready' ? 200 : 503).send(ready);
      },
    );
    open.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });
    open.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
  });

  return app;
}
