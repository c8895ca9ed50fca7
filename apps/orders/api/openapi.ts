// The OpenAPI document served at /docs/json and committed as openapi.json: what @fastify/swagger derives
// from the routes' zod schemas, finished here with what the schemas cannot say: operation IDs, which
// routes need the bearer key, problem+json error bodies as one component, and the response headers.
type Schema = Record<string, unknown>;
type Header = { description: string; schema: Schema };
type ResponseObject = { description?: string; content?: Record<string, { schema?: Schema }>; headers?: Record<string, Header> };
type OperationObject = { operationId?: string; security?: Array<Record<string, string[]>>; responses?: Record<string, ResponseObject> };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** The parts of an OpenAPI 3.1 document this module reads and writes. */
export type OpenApiDocument = {
  paths?: Record<string, Partial<Record<(typeof METHODS)[number], OperationObject>>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, unknown> };
  security?: unknown;
};
type Document = OpenApiDocument;

const header = (description: string, schema: Schema = { type: 'string' }): Header => ({ description, schema });
const RETRY_AFTER = header('Seconds to wait before retrying', { type: 'integer', minimum: 0 });
const LOCATION = header('The order: /v1/orders/{orderId}');
const REPLAYED = header('"true" when this is the stored answer to an earlier request with the same Idempotency-Key', { type: 'string', enum: ['true'] });
const WWW_AUTHENTICATE = header('Bearer');

type Operation = {
  operationId: string;
  /** Who may call it: the tenant's bearer key (default), anyone, or the gateway by its signature. */
  auth?: 'bearer' | 'none' | 'gateway-signature';
  /** Response headers by status code. */
  headers?: Record<string, Record<string, Header>>;
  /** Its error responses have a schema of their own, not a problem (e.g. /readyz's 503 names the checks). */
  ownErrorBodies?: true;
};

/** Every route the document may have: a route missing here fails the document (and its test), so none goes unnamed. */
const OPERATIONS: Record<string, Operation> = {
  'post /v1/orders': {
    operationId: 'placeOrder',
    headers: { '202': { Location: LOCATION, 'Idempotent-Replayed': REPLAYED }, '409': { 'Retry-After': RETRY_AFTER }, '503': { 'Retry-After': RETRY_AFTER } },
  },
  'get /v1/orders/{id}': { operationId: 'getOrder' },
  'post /v1/orders/{id}/cancel': { operationId: 'cancelOrder', headers: { '503': { 'Retry-After': RETRY_AFTER } } },
  'get /v1/products': { operationId: 'listProducts' },
  'get /v1/idempotency-policy': { operationId: 'getIdempotencyPolicy' },
  'post /v1/webhooks/payments': {
    operationId: 'receivePaymentWebhook',
    auth: 'gateway-signature',
    headers: { '409': { 'Retry-After': RETRY_AFTER }, '503': { 'Retry-After': RETRY_AFTER } },
  },
  'get /healthz': { operationId: 'getLiveness', auth: 'none' },
  'get /readyz': { operationId: 'getReadiness', auth: 'none', ownErrorBodies: true },
};

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const PROBLEM_TYPE = 'application/problem+json';

/** Finishes the derived document in place (the swagger plugin's transformObject); throws on a route it does not know. */
export function finishOpenApi<D extends object>(derived: D): D {
  const doc = derived as Document;
  let problem: Schema | undefined;
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const spec = OPERATIONS[`${method} ${path}`];
      if (!spec) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} has no entry in apps/orders/api/openapi.ts`);
      op.operationId = spec.operationId;
      const auth = spec.auth ?? 'bearer';
      op.security = auth === 'bearer' ? [{ bearer: [] }] : auth === 'gateway-signature' ? [{ gatewaySignature: [] }] : [];
      const responses = (op.responses ??= {});
      if (auth === 'bearer') responses['401'] ??= { description: 'No valid API key' };
      for (const status of Object.keys(spec.headers ?? {}))
        responses[status] ??= { description: status === '503' ? 'A dependency is unavailable' : 'See the headers' };
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) >= 400 && !spec.ownErrorBodies) {
          problem ??= response.content?.['application/json']?.schema;
          response.content = { [PROBLEM_TYPE]: { schema: PROBLEM_REF } };
        }
        const headers = { ...(status === '401' && auth === 'bearer' && { 'WWW-Authenticate': WWW_AUTHENTICATE }), ...spec.headers?.[status] };
        if (Object.keys(headers).length > 0) response.headers = { ...response.headers, ...headers };
      }
    }
  }
  doc.components = {
    ...doc.components,
    schemas: {
      ...doc.components?.schemas,
      Problem: { ...(problem ?? { type: 'object' }), description: 'RFC 9457 problem details; `type` is a stable URI per kind of error' },
    },
    securitySchemes: {
      ...doc.components?.securitySchemes,
      gatewaySignature: {
        type: 'apiKey',
        in: 'header',
        name: 'Gateway-Signature',
        description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body"> with the shared webhook secret',
      },
    },
  };
  delete doc.security; // per operation instead
  return derived;
}
