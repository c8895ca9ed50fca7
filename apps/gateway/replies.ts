// Error answers: JSON with a stable `error` string; a message only when it is safe to show.
import type { FastifyReply } from 'fastify';
import type { ZodError } from 'zod';

export function sendError(reply: FastifyReply, statusCode: number, error: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply
    .code(statusCode)
    .type('application/json')
    .send({ error, ...extra });
}

export function sendInvalid(reply: FastifyReply, err: ZodError): FastifyReply {
  const issues = err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  return sendError(reply, 400, 'invalid_request', { issues });
}

/** 503 before anything was applied: the caller may retry with the same key. */
export function sendUnavailable(reply: FastifyReply): FastifyReply {
  return sendError(reply.header('retry-after', '1'), 503, 'service_unavailable', { message: 'injected fault: nothing was applied' });
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
