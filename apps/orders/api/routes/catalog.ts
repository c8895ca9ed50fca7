// GET /v1/products and GET /v1/idempotency-policy.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from '../context';
import { HTTP_LEASE_MS, HTTP_SCOPE } from '../http-idempotency';
import { PolicySchema, ProblemSchema, ProductsSchema } from '../schemas';

export const catalogRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/products',
      { schema: { summary: 'The catalogue with the stock available now', response: { 200: ProductsSchema, 401: ProblemSchema } } },
      async () => {
        const { rows } = await ctx.pool.query<{ sku: string; name: string; price_cents: number; on_hand: number }>(
          'SELECT sku, name, price_cents, on_hand FROM products ORDER BY sku',
        );
        return { products: rows.map((r) => ({ sku: r.sku, name: r.name, priceCents: r.price_cents, available: r.on_hand })) };
      },
    );

    app.get(
      '/v1/idempotency-policy',
      { schema: { summary: 'How POST requests are deduplicated, and for how long', response: { 200: PolicySchema, 401: ProblemSchema } } },
      async () => ({
        scope: HTTP_SCOPE,
        retentionSeconds: ctx.store.ttlSecondsFor(HTTP_SCOPE),
        leaseMs: HTTP_LEASE_MS,
        keyFormat: {
          header: 'Idempotency-Key',
          pattern: '^[\\x20-\\x7E]{1,255}$',
          description: '1–255 printable ASCII characters; a UUID v4 per logical operation is recommended',
        },
        scoping: ['tenant', 'method', 'route', 'Idempotency-Key'],
        storeKeyFormat: '<tenantId>:<METHOD>:<route>:<sha256 hex of the Idempotency-Key>',
        behaviour: {
          sameKeySameBody: 'the first response again (status, body byte for byte, Location) with Idempotent-Replayed: true',
          sameKeyDifferentBody: '422 idempotency-key-reused',
          sameKeyInProgress: '409 idempotency-key-in-use with Retry-After (seconds)',
          notRecorded: '400, 401 and 409 answers record nothing: the key may be used again',
          bodyEquivalence: 'bodies are compared as canonical JSON: member order and whitespace do not matter',
          afterRetention:
            'after retentionSeconds the key is forgotten: using it again, with any body, places a new, independent order (new order ID and saga); the old order is never answered or changed',
        },
      }),
    );
  };
