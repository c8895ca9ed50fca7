// The real entrypoints under NODE_ENV=production: a development webhook secret or a test-only fault
// stops start-up with `error: …` naming the variable and a non-zero exit, before anything is
// contacted. DATABASE_URL and TEMPORAL_ADDRESS point at a listener that counts connections: it
// must see none. The control run (no NODE_ENV) shows the same settings would have reached it.
import net from 'node:net';
import { DEV_WEBHOOK_SECRET } from '../../src/config';
import { type ProcessResult, runScript } from '../helpers/processes';

let listener: net.Server;
let connections = 0;
let services: Record<string, string>;

beforeAll(async () => {
  // Accepts and drops every connection: Postgres and Temporal clients fail fast against it.
  listener = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as net.AddressInfo;
  services = { DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/none`, TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
});
afterAll(async () => {
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});
beforeEach(() => {
  connections = 0;
});

const REAL_SECRET = 'whsec_a_private_production_secret_42';

async function start(script: 'apps/orders/api/main.ts' | 'apps/gateway/main.ts', env: Record<string, string>): Promise<ProcessResult> {
  return runScript(script, [], { ...services, ...env }, 60_000);
}

test('the API with NODE_ENV=production and no WEBHOOK_SECRET exits non-zero naming WEBHOOK_SECRET, before connecting to anything', async () => {
  const res = await start('apps/orders/api/main.ts', { NODE_ENV: 'production' });
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(/^error: Refusing to start the api with NODE_ENV=production:\n {2}WEBHOOK_SECRET: unset or the public development value/);
  expect(res.stderr).not.toMatch(/unexpected failure|\n\s+at /); // one message, no stack
  expect(res.stdout).toBe('');
  expect(connections).toBe(0);
});

test.each([
  [
    'the API with the development secret',
    'apps/orders/api/main.ts',
    { WEBHOOK_SECRET: DEV_WEBHOOK_SECRET },
    /WEBHOOK_SECRET: unset or the public development value/,
  ],
  [
    'the API with API_FAULT_PAUSE_AFTER_START_MS',
    'apps/orders/api/main.ts',
    { WEBHOOK_SECRET: REAL_SECRET, API_FAULT_PAUSE_AFTER_START_MS: '3000' },
    /API_FAULT_PAUSE_AFTER_START_MS: a test-only fault/,
  ],
  ['the gateway with no WEBHOOK_SECRET', 'apps/gateway/main.ts', {}, /Refusing to start the gateway[^]*WEBHOOK_SECRET: unset/],
  [
    'the gateway with GATEWAY_FAULTS',
    'apps/gateway/main.ts',
    { WEBHOOK_SECRET: REAL_SECRET, GATEWAY_FAULTS: '{"declineRate":0.5}' },
    /GATEWAY_FAULTS: a test-only fault configuration/,
  ],
] as const)('%s is refused under NODE_ENV=production, before connecting', async (_name, script, env, message) => {
  const res = await start(script, { NODE_ENV: 'production', ...env });
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(/^error: /);
  expect(res.stderr).toMatch(message);
  expect(connections).toBe(0);
});

test('control: without NODE_ENV=production the same API passes the check and goes on to connect', async () => {
  const res = await start('apps/orders/api/main.ts', {});
  expect(res.code).not.toBe(0); // the listener drops it
  expect(res.stderr).not.toMatch(/WEBHOOK_SECRET/);
  expect(connections).toBeGreaterThan(0);
});

test('a production API with a private secret passes the check and goes on to connect', async () => {
  const res = await start('apps/orders/api/main.ts', { NODE_ENV: 'production', WEBHOOK_SECRET: REAL_SECRET });
  expect(res.code).not.toBe(0);
  expect(res.stderr).not.toMatch(/Refusing to start/);
  expect(connections).toBeGreaterThan(0);
});
