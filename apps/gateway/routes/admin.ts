// Test and operator controls. The gateway listens on loopback only; these routes have no auth.
import type { FastifyInstance } from 'fastify';
import { faultConfigSchema } from '../faults';
import { sendError, sendInvalid } from '../replies';
import { gatewayStats } from '../stats';
import type { GatewayDeps } from './deps';

export function adminRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  app.get('/healthz', async (_request, reply) => {
    try {
      await deps.pool.query('SELECT 1');
      return { status: 'ok' };
    } catch {
      return sendError(reply, 503, 'database_unavailable');
    }
  });

  app.get('/_admin/faults', async () => deps.faults.config);

  /** Replaces the whole fault configuration; omitted fields take their defaults. */
  app.put('/_admin/faults', async (request, reply) => {
    const parsed = faultConfigSchema.safeParse(request.body ?? {});
    if (!parsed.success) return sendInvalid(reply, parsed.error);
    return deps.faults.replace(parsed.data);
  });

  app.get('/_admin/stats', async () => gatewayStats(deps.pool));

  /** Sends a stored webhook event again: same id, same body, fresh signature. */
  app.post<{ Params: { eventId: string } }>('/_admin/webhooks/:eventId/redeliver', async (request, reply) => {
    if (!deps.webhooks) return sendError(reply, 409, 'webhooks_not_configured');
    const result = await deps.webhooks.deliver(request.params.eventId);
    return result ?? sendError(reply, 404, 'not_found');
  });
}
