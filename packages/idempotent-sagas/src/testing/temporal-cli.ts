// Finding (or building) the `temporal` CLI whose dev server runs tests and demos (DESIGN §9).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentUnavailableError } from './environment-error';

/** The newest CLI release whose go.mod has no replace directive, so `go install` accepts it. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

/** Where the CLI was found, and by which rule. */
export type CliLocation = {
  path: string;
  foundBy: 'TEMPORAL_CLI_PATH' | 'PATH' | 'GOPATH' | 'go install';
};

/** No Temporal could be found or started; the message says what to do. */
export class TemporalUnavailableError extends EnvironmentUnavailableError {
  override readonly name = 'TemporalUnavailableError';
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function goBinDir(): string | undefined {
  const go = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
  if (go.status !== 0 || !go.stdout.trim()) return undefined;
  return path.join(go.stdout.trim().split(path.delimiter)[0] ?? '', 'bin');
}

/** TEMPORAL_CLI_PATH, then `temporal` on PATH, then $(go env GOPATH)/bin/temporal. */
export function findTemporalCli(cliPath: string | undefined, pathVar = process.env.PATH): CliLocation | undefined {
  if (cliPath) {
    if (!isExecutable(cliPath)) throw new TemporalUnavailableError(`TEMPORAL_CLI_PATH=${cliPath} is not an executable file.`);
    return { path: cliPath, foundBy: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal', pathVar);
  if (fromPath) return { path: fromPath, foundBy: 'PATH' };
  const bin = goBinDir();
  if (bin && isExecutable(path.join(bin, 'temporal'))) return { path: path.join(bin, 'temporal'), foundBy: 'GOPATH' };
  return undefined;
}

/** Builds the CLI with `go install` when Go is present; undefined when it is not. */
export function installTemporalCli(log: (line: string) => void): CliLocation | undefined {
  const bin = goBinDir();
  if (!bin) return undefined;
  log(`building the Temporal CLI: go install ${TEMPORAL_CLI_MODULE} (a few minutes, once)`);
  try {
    execFileSync('go', ['install', TEMPORAL_CLI_MODULE], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    throw new TemporalUnavailableError(`go install ${TEMPORAL_CLI_MODULE} failed: ${(err as Error).message}`);
  }
  const built = path.join(bin, 'temporal');
  return isExecutable(built) ? { path: built, foundBy: 'go install' } : undefined;
}

/** What a user can do when no Temporal is available. */
export const HOW_TO_GET_TEMPORAL = [
  'Temporal is needed and none could be found or started. Any one of these works:',
  '  1. set TEMPORAL_ADDRESS to a running Temporal server (host:port);',
  '  2. put the `temporal` CLI on PATH, or set TEMPORAL_CLI_PATH to it;',
  `  3. install Go, and the project builds it with: go install ${TEMPORAL_CLI_MODULE}`,
  "(the Temporal SDK's own download is tried last and needs internet access).",
].join('\n');
