// Binaries built from Go modules (the Temporal CLI, or any server a user's tests need): found on PATH or in
// Go's bin directory, or built there with `go install`.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** True when `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where `go install` puts binaries ($(go env GOBIN), else the first $(go env GOPATH) entry's bin), first; empty without Go. */
export function goBinDirs(): string[] {
  const go = spawnSync('go', ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8' });
  if (go.status !== 0) return [];
  const [gobin = '', gopath = ''] = go.stdout.split('\n').map((l) => l.trim());
  const dirs = [gobin, gopath ? path.join(gopath.split(path.delimiter)[0] ?? '', 'bin') : ''].filter((d) => d !== '');
  return [...new Set(dirs)];
}

/** Where a Go-built binary was found: on PATH, or in Go's bin directory (GOBIN, GOPATH/bin or ~/go/bin). */
export type GoBinaryLocation = { path: string; foundBy: 'PATH' | 'GOPATH' };

/** `binary` on `pathVar` (default PATH), else in Go's bin directories or ~/go/bin; undefined when in none. */
export function findGoBinary(binary: string, pathVar = process.env.PATH): GoBinaryLocation | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (dir && isExecutableFile(path.join(dir, binary))) return { path: path.join(dir, binary), foundBy: 'PATH' };
  }
  for (const dir of [...goBinDirs(), path.join(os.homedir(), 'go', 'bin')]) {
    if (isExecutableFile(path.join(dir, binary))) return { path: path.join(dir, binary), foundBy: 'GOPATH' };
  }
  return undefined;
}

/**
 * Builds `module` (`path@version`) with `go install`, saying so first through `say`, and returns the path of
 * `binary` in Go's bin directory; undefined without Go. Go's output goes to stderr (a command's stdout stays
 * for its result). A failed build throws an Error naming the module.
 */
export function goInstall(module: string, binary: string, say: (line: string) => void, duration = 'a few minutes, once'): string | undefined {
  const [bin] = goBinDirs();
  if (!bin) return undefined;
  say(`building ${binary}: go install ${module} (${duration})`);
  try {
    execFileSync('go', ['install', module], { stdio: ['ignore', 2, 2] });
  } catch (err) {
    throw new Error(`go install ${module} failed: ${err instanceof Error ? err.message || err.name : String(err)}`);
  }
  const built = path.join(bin, binary);
  return isExecutableFile(built) ? built : undefined;
}
