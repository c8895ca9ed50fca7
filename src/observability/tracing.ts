// OpenTelemetry tracing across HTTP request → workflow → activity → gateway call (issue 12 item 4): an
// OTLP exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set, none by default; tests pass their own exporter.
// Invariant: with tracing off nothing is registered, and every span below is a no-op.
import { context, propagation, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export type Tracing = {
  enabled: boolean;
  /** Where workflow spans go (the worker's exporter sink) — a no-op when tracing is off. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
};

const TRACER = 'idempotent-sagas';

/**
 * Tracing for this process as `service`: with `exporter` (tests), or OTLP over HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set, registered globally with async context and W3C propagation.
 */
export function setupTracing(service: string, opts: { exporter?: SpanExporter; env?: NodeJS.ProcessEnv } = {}): Tracing {
  const env = opts.env ?? process.env;
  const resource = new Resource({ 'service.name': service });
  const exporter = opts.exporter ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT ? new OTLPTraceExporter() : undefined);
  if (!exporter) return { enabled: false, spanProcessor: new NoopSpanProcessor(), resource, shutdown: async () => {} };
  const spanProcessor = opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager(), propagator: new W3CTraceContextPropagator() });
  return { enabled: true, spanProcessor, resource, shutdown: () => provider.shutdown() };
}

/** The Temporal worker plugin: activity spans, workflow spans through the exporter sink, context in headers. */
export function temporalTracingPlugin(tracing: Pick<Tracing, 'spanProcessor' | 'resource'>): OpenTelemetryPlugin {
  return new OpenTelemetryPlugin({ resource: tracing.resource, spanProcessor: tracing.spanProcessor });
}

/**
 * A server span per request (the caller's trace continued from its traceparent header), active while
 * the route's handler runs (entered after the body is parsed), ended with the response's status.
 */
export function traceRequests(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(context.active(), request.headers);
    const route = request.routeOptions.url ?? 'unmatched';
    const span = trace
      .getTracer(TRACER)
      .startSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route } }, parent);
    spans.set(request, span);
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (!span) return done();
    const parent = propagation.extract(context.active(), request.headers);
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

/** Runs `fn` in a new span (a child of the active one); the span records a thrown error and always ends. */
export async function inSpan<T>(name: string, kind: SpanKind, fn: (span: Span) => Promise<T>): Promise<T> {
  return trace.getTracer(TRACER).startActiveSpan(name, { kind }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active trace context as headers (traceparent), for an outgoing HTTP call. */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}

export { SpanKind };
