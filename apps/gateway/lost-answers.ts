// The two ways an applied charge's answer gets lost: held until the client gives up, or the connection dropped.
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Holds the answer for `ms` or until the client goes away (or the gateway shuts down).
 * Returns true when the caller should still send the answer, false when the reply was abandoned.
 */
export async function holdAnswer(request: FastifyRequest, reply: FastifyReply, ms: number, shutdown: AbortSignal): Promise<boolean> {
  const socket = request.raw.socket;
  const gone = await new Promise<boolean>((resolve) => {
    if (socket.destroyed || shutdown.aborted) return resolve(true);
    const finish = (value: boolean): void => {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
      shutdown.removeEventListener('abort', onShutdown);
      resolve(value);
    };
    const onClose = (): void => finish(true);
    const onShutdown = (): void => finish(true);
    const timer = setTimeout(() => finish(false), ms);
    reply.raw.once('close', onClose);
    shutdown.addEventListener('abort', onShutdown, { once: true });
  });
  if (!gone) return true;
  dropAnswer(request, reply);
  return false;
}

/** Takes the reply away from Fastify and destroys the socket: the client sees a reset, never an answer. */
export function dropAnswer(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  request.raw.socket.destroy();
}
