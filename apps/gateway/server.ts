// Runs the gateway on a port (0 picks a free one): for main.ts, tests and the demo, in-process.
import type { FastifyInstance } from 'fastify';
import { type GatewayAppOptions, buildGatewayApp } from './app';

export type RunningGateway = {
  /** Base URL, e.g. http://127.0.0.1:4010 */
  url: string;
  app: FastifyInstance;
  /** Stops listening, abandons held answers, stops webhooks. The pool stays open: its owner ends it. */
  close(): Promise<void>;
};

export async function startGateway(opts: GatewayAppOptions & { port?: number; host?: string }): Promise<RunningGateway> {
  const app = buildGatewayApp(opts);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const close = async (): Promise<void> => {
    const closing = app.close();
    // A dropped or held answer can leave a keep-alive socket open for a minute; nothing more is coming on it.
    app.server.closeAllConnections();
    await closing;
  };
  return { url: `http://${host}:${port}`, app, close };
}
