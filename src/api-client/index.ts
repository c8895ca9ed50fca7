// A typed client of the orders API, generated from openapi.json (openapi-typescript types, openapi-fetch
// calls): the chaos traffic and the API tests call the API through it, so the document and the running
// API cannot drift apart unnoticed. Regenerate with `npm run openapi` after changing a route.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

export type { paths };
export type OrdersApiClient = Client<paths>;

/** A client for the API at `baseUrl`, sending `apiKey` as the bearer token on every request. */
export function createOrdersApiClient(opts: { baseUrl: string; apiKey?: string; fetch?: typeof fetch }): OrdersApiClient {
  const client = createClient<paths>({ baseUrl: opts.baseUrl, ...(opts.fetch && { fetch: opts.fetch }) });
  const apiKey = opts.apiKey;
  if (apiKey) {
    const auth: Middleware = {
      onRequest: ({ request }) => {
        request.headers.set('authorization', `Bearer ${apiKey}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}
