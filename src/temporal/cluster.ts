// A real Temporal cluster on PostgreSQL persistence, as local processes: the server (v1.29.1) and its SQL
// schema tool, built with `go install` when not found, the `temporal` and `temporal_visibility` schemas set
// up by that tool from the server module's own schema/postgresql/v12, and frontend, two history, matching
// and worker services as separate processes (each a ChildSpec the stack builder runs and chaos can kill).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, goBinDirs, goInstall, isExecutableFile } from 'idempotent-sagas/testing';
import { StartupError } from '../errors';
import type { ChildSpec } from '../stack/child-process';
import { LATENCY_DYNAMIC_CONFIG } from './dev-server';

/** The server version the cluster runs; docker-compose runs the same (temporalio/server and admin-tools). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';
/** History shards: fixed when the cluster's database is created. */
const HISTORY_SHARDS = 4;

export type ClusterService = 'frontend' | 'history' | 'matching' | 'worker';

/** One service process of the cluster. */
export type ClusterMember = { name: string; service: ClusterService; spec: ChildSpec };

export type ClusterBinaries = { server: string; sqlTool: string; schemaDir: string };

/**
 * The binaries, found in Go's bin directory (where `go install` writes: GOBIN, else GOPATH/bin) or built there
 * with `go install`; a StartupError naming both ways otherwise. Never looked up on PATH: `server` and `sql`
 * are names anything may have.
 */
export function findClusterBinaries(say: (line: string) => void = () => {}): ClusterBinaries {
  const [bin] = goBinDirs();
  if (!bin) {
    throw new StartupError(
      `a Temporal cluster needs the server and its SQL tool (${SERVER_MODULE} v${TEMPORAL_SERVER_VERSION}): install Go, then \`npm run temporal:cluster\` builds them`,
    );
  }
  const built = (binary: string, pkg: string): string => {
    const file = path.join(bin, binary);
    if (isExecutableFile(file)) return file;
    const module = `${SERVER_MODULE}/${pkg}@v${TEMPORAL_SERVER_VERSION}`;
    try {
      const installed = goInstall(module, binary, (line) => say(`temporal cluster: ${line}`));
      if (installed) return installed;
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
    throw new StartupError(`go install ${module} left no executable ${file}`);
  };
  const server = built('server', 'cmd/server');
  const sqlTool = built('sql', 'cmd/tools/sql');
  const go = (args: string[]): string => execFileSync('go', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const schemaDir = path.join(go(['env', 'GOMODCACHE']), `${SERVER_MODULE}@v${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
  if (!existsSync(schemaDir)) go(['mod', 'download', `${SERVER_MODULE}@v${TEMPORAL_SERVER_VERSION}`]);
  return { server, sqlTool, schemaDir };
}

export type ClusterLayout = {
  /** The frontend's gRPC address, what clients and workers connect to. */
  address: string;
  members: ClusterMember[];
};

/**
 * Creates the cluster's two databases on the Postgres server at `adminUrl` (when missing) and brings their
 * schemas to the module's latest version with the SQL tool, then writes one configuration per service
 * process under `dir`. Ports are `basePort` and up (30 of them).
 */
export async function prepareCluster(opts: {
  binaries: ClusterBinaries;
  adminUrl: string;
  /** Prefix of the two database names: `<prefix>` and `<prefix>_visibility`. */
  databasePrefix: string;
  dir: string;
  basePort: number;
  historyProcesses?: number;
  say?: (line: string) => void;
}): Promise<ClusterLayout> {
  const { binaries, adminUrl, dir, basePort } = opts;
  const url = new URL(adminUrl);
  const names = { default: opts.databasePrefix, visibility: `${opts.databasePrefix}_visibility` };
  for (const [store, name] of Object.entries(names)) {
    await createDatabase(adminUrl, name).catch((err: unknown) => {
      if (!/already exists/.test(String(err))) throw err;
    });
    const tool = (args: string[]): void => {
      execFileSync(
        binaries.sqlTool,
        ['--plugin', 'postgres12', '--ep', url.hostname, '-p', url.port || '5432', '-u', decodeURIComponent(url.username), '--db', name, ...args],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SQL_PASSWORD: decodeURIComponent(url.password) } },
      );
    };
    tool(['setup-schema', '-v', '0.0']); // a no-op on a database that has it
    tool(['update-schema', '-d', path.join(binaries.schemaDir, store === 'default' ? 'temporal' : 'visibility', 'versioned')]);
  }
  opts.say?.(`temporal cluster: schemas ready in ${names.default} and ${names.visibility}`);

  mkdirSync(dir, { recursive: true });
  const dynamicConfigFile = path.join(dir, 'dynamic-config.yaml');
  writeFileSync(dynamicConfigFile, dynamicConfigYaml());
  const histories = opts.historyProcesses ?? 2;
  // Each process binds only its own service's ports; the others are how it finds the rest by membership.
  const ports = (i: number) => ({ grpc: basePort + 2 * i, membership: basePort + 2 * i + 1 });
  const processes: Array<{ name: string; service: ClusterService; index: number }> = [
    { name: 'frontend', service: 'frontend', index: 0 },
    ...Array.from({ length: histories }, (_, h) => ({ name: `history-${h + 1}`, service: 'history' as const, index: 1 + h })),
    { name: 'matching', service: 'matching', index: 1 + histories },
    { name: 'worker', service: 'worker', index: 2 + histories },
  ];
  const address = `127.0.0.1:${ports(0).grpc}`;
  const members = processes.map(({ name, service, index }) => {
    const configDir = path.join(dir, name);
    mkdirSync(configDir, { recursive: true });
    const servicePorts = { frontend: ports(0), history: ports(index), matching: ports(1 + histories), worker: ports(2 + histories) };
    writeFileSync(
      path.join(configDir, 'cluster.yaml'),
      configYaml({ url, names, servicePorts, metricsPort: basePort + 20 + index, address, dynamicConfigFile, httpPort: basePort + 19 }),
    );
    const spec: ChildSpec = {
      name,
      command: binaries.server,
      args: ['--root', dir, '--config', name, '--env', 'cluster', '--allow-no-auth', 'start', '--service', service],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      readyText: `"msg":"${service} starting"`,
      logFile: path.join(dir, `${name}.log`),
      readyTimeoutMs: 90_000,
    };
    return { name, service, spec };
  });
  return { address, members };
}

function dynamicConfigYaml(): string {
  const values: Record<string, boolean> = {
    ...LATENCY_DYNAMIC_CONFIG,
    'frontend.enableUpdateWorkflowExecution': true,
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
    // A search attribute registered by a client is visible to the next call (as on the dev server).
    'system.forceSearchAttributesCacheRefreshOnRead': true,
  };
  return Object.entries(values)
    .map(([key, value]) => `${key}:\n  - value: ${value}\n`)
    .join('');
}

function configYaml(o: {
  url: URL;
  names: { default: string; visibility: string };
  servicePorts: Record<ClusterService, { grpc: number; membership: number }>;
  metricsPort: number;
  httpPort: number;
  address: string;
  dynamicConfigFile: string;
}): string {
  const store = (name: string, maxConns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${name}"
        connectAddr: "${o.url.hostname}:${o.url.port || '5432'}"
        connectProtocol: "tcp"
        user: ${JSON.stringify(decodeURIComponent(o.url.username))}
        password: ${JSON.stringify(decodeURIComponent(o.url.password))}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (s: ClusterService) => `
  ${s}:
    rpc:
      grpcPort: ${o.servicePorts[s].grpc}
      membershipPort: ${o.servicePorts[s].membership}
      bindOnLocalHost: true${s === 'frontend' ? `\n      httpPort: ${o.httpPort}` : ''}`;
  return `# Written by src/temporal/cluster.ts: one service process of the cluster (see development-postgres12.yaml of the server module).
log:
  stdout: true
  level: info
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${HISTORY_SHARDS}
  datastores:
    postgres-default:${store(o.names.default, 10)}
    postgres-visibility:${store(o.names.visibility, 2)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${o.metricsPort}"
services:${(['frontend', 'history', 'matching', 'worker'] as const).map(service).join('')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "${o.address}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "${o.dynamicConfigFile}"
  pollInterval: "10s"
`;
}
