// Entrypoints in their own processes (`node --import tsx`, not the tsx wrapper: a signal must
// reach the process itself, not a parent that relays it), so a test can SIGKILL them mid-step.
// They run as the chaos run's services do (SupervisedChild), their output in a temporary log file.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SupervisedChild } from '../../src/stack/child-process';
import type { OrderStack } from './order-stack';
import { ROOT } from './processes';

export type ChildProcessHandle = SupervisedChild;
export type ChildWorker = ChildProcessHandle;

/** Starts `script` with exactly `env` (plus PATH and HOME) and resolves once its output contains `readyText`. */
export async function startChildProcess(script: string, env: Record<string, string>, readyText: string): Promise<ChildProcessHandle> {
  const name = path.basename(path.dirname(script));
  const child = new SupervisedChild({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', path.join(ROOT, script)],
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    readyText,
    logFile: path.join(mkdtempSync(path.join(os.tmpdir(), `idem-${name}-`)), 'output.log'),
  });
  await child.start();
  return child;
}

export function startChildWorker(env: Record<string, string>): Promise<ChildWorker> {
  return startChildProcess('apps/worker/main.ts', env, 'worker ready');
}

/** What a worker or API process needs to serve the stack's task queue (its database, gateway and Temporal), plus `extra`. */
export function childWorkerEnv(stack: OrderStack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: stack.db.url,
    GATEWAY_URL: stack.gatewayUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    ...extra,
  };
}
