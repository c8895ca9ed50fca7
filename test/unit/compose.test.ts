// docker-compose.yml cannot be run here (no Docker engine), so its shape is checked instead:
// every service the README names exists, with its ports and dependencies, and workers scale.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DEV_WEBHOOK_SECRET, loadConfig } from '../../src/config';
import { NATS_SERVER_VERSION } from '../../src/events/nats-server';
import { TEMPORAL_SERVER_VERSION } from '../../src/temporal/cluster';
import { LATENCY_DYNAMIC_CONFIG } from '../../src/temporal/dev-server';

const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'];

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  healthcheck?: { test?: string[] };
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  environment?: Record<string, string>;
  container_name?: string;
  volumes?: string[];
  restart?: string;
};

const root = path.resolve(__dirname, '../..');
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

const dependsOn = (s: Service | undefined): string[] => (Array.isArray(s?.depends_on) ? s.depends_on : Object.keys(s?.depends_on ?? {}));

test('every service the README names is in docker-compose.yml, and no other', () => {
  const line = readme.split('\n').find((l) => l.startsWith('Compose services:'));
  expect(line).toBeDefined();
  const named = [...line!.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
  expect(named.sort()).toEqual(Object.keys(compose.services).sort());
  expect(readme).toContain('--scale worker=');
});

test.each([
  ['temporal-frontend', '7233:7233'],
  ['temporal-ui', '8080:8080'],
  ['postgres', '5433:5432'],
  ['gateway', '4010:4010'],
  ['api', '3000:3000'],
  ['nats', '4223:4222'],
])('%s publishes %s', (name, port) => {
  expect(compose.services[name]?.ports).toContain(port);
});

test("dependencies: the schema job on Temporal's Postgres, every service after it, the namespace set up once they run, the worker and the API after that", () => {
  expect(dependsOn(compose.services['temporal-schema'])).toEqual(['temporal-db']);
  for (const service of TEMPORAL_SERVICES) expect(dependsOn(compose.services[`temporal-${service}`])).toEqual(['temporal-schema']);
  expect(dependsOn(compose.services['temporal-setup']).sort()).toEqual(TEMPORAL_SERVICES.map((s) => `temporal-${s}`).sort());
  expect(dependsOn(compose.services['temporal-ui'])).toEqual(['temporal-frontend']);
  expect(dependsOn(compose.services.gateway)).toEqual(['postgres']);
  expect(dependsOn(compose.services.worker).sort()).toEqual(['gateway', 'postgres', 'temporal-setup']);
  expect(dependsOn(compose.services.api).sort()).toEqual(['postgres', 'temporal-setup']);
  for (const name of ['relay', 'consumer']) expect(dependsOn(compose.services[name]).sort()).toEqual(['nats', 'postgres']);
});

test('the Temporal cluster: server 1.29.1 (as npm run temporal:cluster builds), one service per container, the schema by its SQL tool, eager dispatch on', () => {
  for (const service of TEMPORAL_SERVICES) {
    const s = compose.services[`temporal-${service}`]!;
    expect(s.image).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    expect(s.environment?.SERVICES).toBe(service);
    expect(s.environment?.DB).toBe('postgres12');
  }
  expect(compose.services['temporal-schema']?.image).toBe(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
  expect(JSON.stringify(compose.services['temporal-schema']?.command)).toContain('temporal-sql-tool');
  expect(JSON.stringify(compose.services['temporal-schema']?.command)).toContain('/schema/postgresql/v12/');
  const dynamicConfig = parse(fs.readFileSync(path.join(root, 'deploy/temporal/dynamicconfig.yaml'), 'utf8')) as Record<string, Array<{ value: unknown }>>;
  for (const key of Object.keys(LATENCY_DYNAMIC_CONFIG)) expect({ key, value: dynamicConfig[key]?.[0]?.value }).toEqual({ key, value: true });
  expect(Object.values(compose.services).some((s) => s.image?.includes('auto-setup'))).toBe(false);
});

test('the worker scales: no fixed name or host port; every project service runs our image with DATABASE_URL', () => {
  const worker = compose.services.worker!;
  expect(worker.container_name).toBeUndefined();
  expect(worker.ports).toBeUndefined();
  for (const name of ['gateway', 'worker', 'api']) {
    const s = compose.services[name]!;
    expect(s.build).toBe('.');
    expect(s.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.+@postgres:5432\//);
  }
  expect(compose.services.worker?.environment?.TEMPORAL_ADDRESS).toBe('temporal-frontend:7233');
  expect(compose.services.api?.environment?.API_HOST).toBe('0.0.0.0');
  expect(compose.services.gateway?.environment?.GATEWAY_HOST).toBe('0.0.0.0');
  // The commands run the built entry points with node; each is the build of an entry point that exists,
  // and the npm start script of the same role runs that entry point's source.
  const scripts = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const [name, script] of [
    ['gateway', 'start:gateway'],
    ['worker', 'start:worker'],
    ['api', 'start:api'],
  ] as const) {
    const [node, built] = compose.services[name]!.command!;
    expect(node).toBe('node');
    const source = built!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    expect(fs.existsSync(path.join(root, source))).toBe(true);
    expect(scripts[script]).toBe(`tsx ${source}`);
  }
  // The worker and the API report readiness to compose.
  for (const name of ['worker', 'api']) expect(JSON.stringify(compose.services[name]!.healthcheck?.test)).toContain('/readyz');
});

test('the gateway and the API share a webhook secret that is not the public development one', () => {
  const gateway = compose.services.gateway?.environment?.WEBHOOK_SECRET;
  const api = compose.services.api?.environment?.WEBHOOK_SECRET;
  expect(gateway).toBeDefined();
  expect(api).toBe(gateway);
  // `${WEBHOOK_SECRET:-fallback}`: the shell's value when set, else the local-only fallback.
  const m = /^\$\{WEBHOOK_SECRET:-([^}]+)\}$/.exec(gateway!);
  expect(m).not.toBeNull();
  const fallback = m![1]!;
  expect(fallback).not.toBe(DEV_WEBHOOK_SECRET);
  expect(fallback).toMatch(/local/);
  // The fallback passes the config's own check, so the stack starts (even with NODE_ENV=production).
  expect(loadConfig({ WEBHOOK_SECRET: fallback }).gateway.webhookSecret).toBe(fallback);
});

test('the events: NATS with JetStream (the nats-server npm run nats:install builds) on a named volume, the relay and the consumer on it', () => {
  const nats = compose.services.nats!;
  expect(nats.image).toBe(`nats:${NATS_SERVER_VERSION.replace(/^v/, '')}`);
  const command = nats.command!;
  expect(command).toContain('-js');
  expect(command[command.indexOf('-sd') + 1]).toBe('/data');
  const volume = nats.volumes?.find((v) => v.endsWith(':/data'));
  expect(volume).toBeDefined();
  expect(Object.keys(compose.volumes ?? {})).toContain(volume!.split(':')[0]);
  for (const [name, built] of [
    ['relay', 'dist/apps/events/relay-main.js'],
    ['consumer', 'dist/apps/shipping/main.js'],
  ] as const) {
    const s = compose.services[name]!;
    expect(s.build).toBe('.');
    expect(s.command).toEqual(['node', built]);
    expect(s.environment?.NATS_URL).toBe('nats://nats:4222');
    expect(s.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.+@postgres:5432\//);
    const after = s.depends_on as Record<string, { condition: string }>;
    expect(after.postgres?.condition).toBe('service_healthy');
    // The nats image (FROM scratch) has nothing to run a health check with: started, and the service restarts until it connects.
    expect(after.nats?.condition).toBe(nats.healthcheck ? 'service_healthy' : 'service_started');
    if (!nats.healthcheck) expect(s.restart).toBe('on-failure');
  }
  // The URL passes the config's own check.
  expect(loadConfig({ NATS_URL: compose.services.relay!.environment!.NATS_URL }).nats.url).toBe('nats://nats:4222');
});
