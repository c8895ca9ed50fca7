// Builds a worker for the order task queue: the workflows bundle plus activities bound to their dependencies.
import { Worker, bundleWorkflowCode, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';

export const WORKFLOWS_PATH = require.resolve('../../workflows');

/** Bundling takes seconds: build once and hand the bundle to every worker of a process. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
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
  workflowBundle?: WorkflowBundleWithSourceMap;
  identity?: string;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(opts.deps),
    ...(opts.identity && { identity: opts.identity }),
  });
}
