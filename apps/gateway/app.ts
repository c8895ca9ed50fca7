// The gateway's Fastify app, built without listening (tests use it in-process or on port 0).
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import pino from 'pino';
import type { Logger } from '../../src/logger';
import { FaultInjector, type FaultConfigInput } from './faults';
import { KeyBusyError } from './key-lock';
import { sendError } from './replies';
import { adminRoutes } from './routes/admin';
import { chargeRoutes } from './routes/charges';
import type { GatewayDeps } from './routes/deps';
import { refundRoutes } from './routes/refunds';
import { WebhookDispatcher, type WebhookTarget } from './webhooks';

export type GatewayAppOptions = {
  pool: Pool;
  /** A live injector (keep it to change faults in-process) or an initial configuration. */
  faults?: FaultInjector | FaultConfigInput;
  logger?: Logger;
  /** Where to send signed webhooks; without it, pending charges stay pending. */
  webhook?: WebhookTarget;
};

/** Fastify's 4xx codes mapped to stable error strings; anything else 4xx is `bad_request`. */
const CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
};

export function buildGatewayApp(opts: GatewayAppOptions): FastifyInstance {
  const logger = opts.logger ?? pino({ level: 'silent' });
  // Typed as Fastify's base logger so the app is a plain FastifyInstance.
  const loggerInstance: FastifyBaseLogger = logger;
  const app: FastifyInstance = Fastify({ loggerInstance, bodyLimit: 64 * 1024 });
  const shutdown = new AbortController();
  const deps: GatewayDeps = {
    pool: opts.pool,
    faults: opts.faults instanceof FaultInjector ? opts.faults : new FaultInjector(opts.faults),
    webhooks: opts.webhook ? new WebhookDispatcher(opts.pool, opts.webhook, logger) : undefined,
    shutdown: shutdown.signal,
  };

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof KeyBusyError) return sendError(reply.header('retry-after', '1'), 409, 'in_progress');
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, CLIENT_ERRORS[err.code] ?? 'bad_request', { message: err.message });
    request.log.error({ err }, 'gateway request failed');
    return sendError(reply, 500, 'internal_error');
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, 'route_not_found'));

  chargeRoutes(app, deps);
  refundRoutes(app, deps);
  adminRoutes(app, deps);

  // What a previous process left pending is confirmed (and its events delivered) by this one.
  app.addHook('onReady', async () => deps.webhooks?.resume());
  // Held answers would keep connections (and close()) waiting: abandon them first.
  app.addHook('preClose', async () => shutdown.abort());
  app.addHook('onClose', async () => deps.webhooks?.close());
  return app;
}
