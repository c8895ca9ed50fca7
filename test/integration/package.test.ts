// The library as a user gets it: `npm run build:lib`, `npm pack`, the tarball installed in a fresh
// directory outside the repository, each entry point required and type-checked by its package name,
// the workflow entry bundled by Temporal's bundler (which refuses Node built-ins), the shipped
// migrations and store run against a real database, and the ticket-booking example type-checked and
// its tests run there against the installed package.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createEmptyDatabase } from '../helpers/database';
import { ROOT } from '../helpers/processes';
import { ADMIN_URL_VAR, TEMPORAL_ADDRESS_VAR, requireTestEnv } from '../helpers/test-env';

const LIBRARY = path.join(ROOT, 'packages/idempotent-sagas');
const FIXTURE = path.join(ROOT, 'test/fixtures/consumer');
const ENTRY_POINTS = ['workflow', 'activity', 'store', 'fastify', 'testing'] as const;
const EXAMPLE = path.join(ROOT, 'examples/ticket-booking');

let work: string;
let consumer: string;
let tarball: string;

const run = (cmd: string, args: string[], cwd: string): string =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
    env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' },
  });

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'idempotent-sagas-pack-'));
  run('npm', ['run', '--silent', 'build:lib'], ROOT);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], LIBRARY)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(work, packed[0]!.filename);
  fs.writeFileSync(path.join(work, 'files.json'), JSON.stringify(packed[0]!.files.map((f) => f.path)));
  consumer = path.join(work, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(consumer, f));
  // The peers at the versions this repository uses; --prefer-offline takes them from the cache `npm ci` filled.
  run(
    'npm',
    ['install', '--prefer-offline', tarball, '@temporalio/workflow@1.24', '@temporalio/activity@1.24', '@temporalio/common@1.24', 'zod@4', '@types/pg@8'],
    consumer,
  );
}, 300_000);
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the compiled entry points with declarations, the migrations, README and LICENSE; no sources', () => {
  const files = JSON.parse(fs.readFileSync(path.join(work, 'files.json'), 'utf8')) as string[];
  for (const entry of ENTRY_POINTS) expect(files).toEqual(expect.arrayContaining([`dist/${entry}/index.js`, `dist/${entry}/index.d.ts`]));
  const migrations = fs.readdirSync(path.join(LIBRARY, 'src/store/migrations'));
  expect(migrations.length).toBeGreaterThan(0);
  expect(files).toEqual(expect.arrayContaining([...migrations.map((m) => `dist/store/migrations/${m}`), 'LICENSE', 'README.md', 'package.json']));
  expect(files.filter((f) => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.map'))).toEqual([]);
});

test('every entry point loads by its package name from the installed copy, outside the repository', () => {
  const script = `for (const e of ${JSON.stringify(ENTRY_POINTS)}) { const m = require('idempotent-sagas/' + e); console.log(e, require.resolve('idempotent-sagas/' + e), Object.keys(m).sort().join(',')); }`;
  const lines = run(process.execPath, ['-e', script], consumer).trim().split('\n');
  const loaded: Record<string, { file: string; keys: string[] }> = {};
  for (const line of lines) {
    const [entry, file, keys] = line.split(' ');
    loaded[entry!] = { file: file!, keys: keys!.split(',') };
  }
  for (const entry of ENTRY_POINTS)
    expect(loaded[entry]!.file).toBe(path.join(fs.realpathSync(consumer), `node_modules/idempotent-sagas/dist/${entry}/index.js`));
  expect(loaded.workflow!.keys).toEqual(expect.arrayContaining(['Saga', 'stepKeys', 'sagaStateQuery', 'resolveCompensationUpdate']));
  expect(loaded.activity!.keys).toEqual(expect.arrayContaining(['parseInput', 'assertOwnKey', 'translated']));
  expect(loaded.store!.keys).toEqual(expect.arrayContaining(['IdempotencyStore', 'migrate', 'CleanupLoop', 'IdempotencyCounters']));
  expect(loaded.activity!.keys).toEqual(expect.arrayContaining(['defineSteps']));
  expect(loaded.fastify!.keys).toEqual(expect.arrayContaining(['idempotentRoute', 'checkIdempotencyKey', 'httpStoreKey']));
  expect(loaded.testing!.keys).toEqual(expect.arrayContaining(['FaultInjector', 'findPostgres', 'findTemporal', 'createTestDatabase', 'startDevServer']));
  // Deep imports are not part of the API: the exports map refuses them.
  expect(() => run(process.execPath, ['-e', "require('idempotent-sagas/dist/store/records.js')"], consumer)).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test('a consumer type-checks against the installed declarations (module resolution by exports)', () => {
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer)).toBe('');
  // And the check is real: a wrong use of the API is refused.
  fs.writeFileSync(
    path.join(consumer, 'wrong.ts'),
    "import { stepKeys } from 'idempotent-sagas/workflow';\nexport const n: number = stepKeys('wf', 'step').forwardKey;\n",
  );
  const wrong = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'wrong.ts'],
    { cwd: consumer, encoding: 'utf8' },
  );
  expect(wrong.status).toBe(2);
  expect(wrong.stdout.trim()).toMatch(/^wrong\.ts\(2,14\): error TS2322: Type 'string' is not assignable to type 'number'\.$/);
}, 120_000);

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

test('a workflow importing the installed workflow entry bundles (the bundler refuses Node built-ins)', async () => {
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(consumer, 'workflows.ts'), logger: quiet });
  expect(bundle.code).toContain('bookTrip');
  expect(bundle.code).toContain('node_modules/idempotent-sagas/dist/workflow/saga.js');
  // The check can fail: a workflow that imports the store entry (pg, Node built-ins) is refused.
  fs.writeFileSync(
    path.join(consumer, 'bad-workflows.ts'),
    "import { IdempotencyStore } from 'idempotent-sagas/store';\nexport async function bad(): Promise<string> { return typeof IdempotencyStore; }\n",
  );
  const errors: string[] = [];
  const bad = bundleWorkflowCode({ workflowsPath: path.join(consumer, 'bad-workflows.ts'), logger: { ...quiet, error: (m: string) => void errors.push(m) } });
  await expect(bad).rejects.toThrow(/Webpack finished with errors/);
  expect(errors.join('\n')).toMatch(/node:crypto .*\[1 error\]/);
}, 120_000);

test('the shipped migrations and store run from the installed copy: an effect applies once in the chosen schema', async () => {
  const db = await createEmptyDatabase();
  try {
    const tsx = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
    const script = `import('./store-check.ts').then(async (m) => console.log(JSON.stringify(await (m.default ?? m).check(${JSON.stringify(db.url)}, 'trips'))))`;
    const out = JSON.parse(run(process.execPath, ['--import', tsx, '-e', script], consumer).trim()) as { applied: string[]; runs: number; replayed: boolean[] };
    expect(out).toEqual({
      applied: fs
        .readdirSync(path.join(LIBRARY, 'src/store/migrations'))
        .map((f) => f.replace(/\.sql$/, ''))
        .sort(),
      runs: 1,
      replayed: [false, true],
    });
  } finally {
    await db.drop();
  }
}, 120_000);

test('the ticket-booking example, installed beside the tarball outside the repository, type-checks and passes its own tests', () => {
  const example = path.join(work, 'ticket-booking');
  fs.cpSync(EXAMPLE, example, { recursive: true, filter: (src) => !/[/\\](node_modules|dist)([/\\]|$)/.test(src) });
  const manifest = JSON.parse(fs.readFileSync(path.join(example, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  manifest.dependencies['idempotent-sagas'] = `file:${tarball}`;
  fs.writeFileSync(path.join(example, 'package.json'), JSON.stringify(manifest, null, 2));
  run('npm', ['install', '--prefer-offline'], example);
  // Nothing resolves back into the repository: the library is the installed copy.
  expect(fs.realpathSync(path.join(example, 'node_modules/idempotent-sagas'))).toBe(path.join(fs.realpathSync(example), 'node_modules/idempotent-sagas'));
  const test = spawnSync('npm', ['test'], {
    cwd: example,
    encoding: 'utf8',
    timeout: 420_000,
    env: { ...process.env, DATABASE_URL: requireTestEnv(ADMIN_URL_VAR), TEMPORAL_ADDRESS: requireTestEnv(TEMPORAL_ADDRESS_VAR) },
  });
  const out = `${test.stdout}\n${test.stderr}`;
  expect({ status: test.status, failed: out.match(/^# fail (\d+)$/m)?.[1] }).toEqual({ status: 0, failed: '0' });
  expect(out).toMatch(/^# pass 6$/m);
}, 600_000);
