// Entrypoints in their own processes (`node --import tsx`, not the tsx wrapper: a signal must
// reach the process itself, not a parent that relays it), so a test can SIGKILL them mid-step.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './processes';

export type ChildProcessHandle = { child: ChildProcess; output(): string; kill(signal: NodeJS.Signals): Promise<void> };
export type ChildWorker = ChildProcessHandle;

/** Starts `script` with exactly `env` (plus PATH and HOME) and resolves once its output contains `readyText`. */
export async function startChildProcess(script: string, env: Record<string, string>, readyText: string): Promise<ChildProcessHandle> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (output.includes(readyText)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export function startChildWorker(env: Record<string, string>): Promise<ChildWorker> {
  return startChildProcess('apps/worker/main.ts', env, 'worker ready');
}
