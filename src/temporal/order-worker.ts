// Builds a worker for the order task queue: the workflows bundle plus activities bound to their dependencies.
import { writeFile } from 'node:fs/promises';
import { Worker, bundleWorkflowCode, type NativeConnection, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';

export const WORKFLOWS_PATH = require.resolve('../../workflows');

/** Bundling takes seconds: build once and hand the bundle to every worker of a process. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
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
