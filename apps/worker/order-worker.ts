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
/** OpenTelemetry's workflow interceptors: in every bundle, so one bundle serves a worker with tracing on or off. */
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

/** Bundling takes seconds: build once and hand the bundle to every worker of a process. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES, TRACING_WORKFLOW_MODULE],
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
  /** Where the worker's spans go; tracing off (spans dropped) by default. */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS }),
    // Every activity log line names its saga step; workflow interceptor modules matter only when bundling here.
    interceptors: { activity: [stepLogInterceptors], ...(!opts.workflowBundle && { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }) },
    activities: createActivities(opts.deps),
    ...(opts.identity && { identity: opts.identity }),
    // Always on, so the bundle's tracing interceptors find their exporter sink; without tracing it drops spans.
    plugins: [temporalTracingPlugin(opts.tracing ?? setupTracing('worker', { env: {} }))],
  });
}
