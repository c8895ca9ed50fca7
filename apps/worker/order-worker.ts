// Builds a worker for the order task queue: the workflows bundle plus activities bound to their dependencies.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker, bundleWorkflowCode, type NativeConnection, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { setupTracing, temporalTracingPlugin, type Tracing } from '../../src/observability/tracing';
import { stepLogInterceptors } from 'idempotent-sagas/activity';
import { createActivities, type ActivityDeps } from './activities';

export const WORKFLOWS_PATH = require.resolve('./workflows');
/** Workflow interceptors bundled with the workflows: step summaries for the Temporal UI. */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('./interceptors')];
/** OpenTelemetry's workflow interceptors: in a traced bundle, which serves a worker with tracing on or off. */
const TRACING_WORKFLOW_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** Where the library's sources are: its entry points resolve there while it is developed in this repository. */
const LIBRARY_SOURCES = path.resolve(__dirname, '../../packages/idempotent-sagas/src');

/**
 * Bundler options for workflow code that imports the library by its package name from this
 * repository (an installed package resolves through its `exports` and needs none of this).
 */
export const WORKFLOW_BUNDLER_OPTIONS = {
  webpackConfigHook: <C extends { resolve?: { alias?: unknown } }>(config: C): C => {
    const alias = { ...(config.resolve?.alias as Record<string, string> | undefined), 'idempotent-sagas': LIBRARY_SOURCES };
    return { ...config, resolve: { ...config.resolve, alias } };
  },
};

/**
 * Bundling takes seconds: build once and hand the bundle to every worker of a process. Traced by default
 * (OpenTelemetry's workflow interceptors in it); `{ traced: false }` for workers with tracing 'off'.
 */
export function bundleWorkflows(opts: { traced?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES, ...(opts.traced === false ? [] : [TRACING_WORKFLOW_MODULE])],
    logger: quietBundlerLogger,
    ...WORKFLOW_BUNDLER_OPTIONS,
  });
}

/** Writes the bundle to `file`, for workers started with WORKFLOW_BUNDLE_PATH (they skip the seconds of bundling). */
export async function writeWorkflowBundle(file: string): Promise<void> {
  const { code } = await bundleWorkflows();
  await writeFile(file, code);
}

const quietBundlerLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => process.stderr.write(`workflow bundler: ${m}\n`),
  error: (m: string) => process.stderr.write(`workflow bundler: ${m}\n`),
  log: () => {},
};

export async function createOrderWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  workflowBundle?: WorkflowBundleOption | undefined;
  identity?: string;
  /**
   * Where the worker's spans go. Default: spans made and dropped (any bundle works). `'off'`: no tracing
   * interceptors at all, the cheapest; the bundle must then be untraced (`bundleWorkflows({ traced: false })`, or none).
   */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource'> | 'off';
}): Promise<Worker> {
  const { tracing } = opts;
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS }),
    // Every activity log line names its saga step; workflow interceptor modules matter only when bundling here.
    interceptors: { activity: [stepLogInterceptors], ...(!opts.workflowBundle && { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }) },
    activities: createActivities(opts.deps),
    ...(opts.identity && { identity: opts.identity }),
    // Unless 'off', so a traced bundle's interceptors find their exporter sink; without tracing it drops spans.
    ...(tracing !== 'off' && { plugins: [temporalTracingPlugin(tracing ?? setupTracing('worker', { env: {} }))] }),
  });
}
