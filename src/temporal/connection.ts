// Client and worker connections to Temporal, and the search attributes our workflows publish.
// TLS, mTLS and API keys follow the SDK's environment configuration conventions (@temporalio/envconfig):
// TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
// TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY, TEMPORAL_GRPC_META_*, or a profile of a TOML file
// (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE). The address and namespace are ours (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { StartupError } from '../errors';
import { SEARCH_ATTRIBUTES } from '../../apps/worker/search-attributes';

type Security = Pick<ClientConnectConfig['connectionOptions'], 'tls' | 'apiKey' | 'metadata'>;
export type TemporalConnectionOptions = Security & { address: string };

/** Where the security settings are read from: the process environment (and the default config file) unless given. */
export type SecuritySource = { env?: Record<string, string>; disableFile?: boolean };

/** The connection options for `address`: plain, TLS, mTLS or an API key (which implies TLS), by the SDK's conventions. */
export function temporalConnectionOptions(address: string, source: SecuritySource = {}): TemporalConnectionOptions {
  let loaded: ClientConnectConfig;
  try {
    loaded = loadClientConnectConfig({ ...(source.env && { overrideEnvVars: source.env }), ...(source.disableFile && { disableFile: true }) });
  } catch (err) {
    throw new StartupError(
      `Temporal connection settings (TEMPORAL_TLS_*, TEMPORAL_API_KEY, TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const { tls, apiKey, metadata } = loaded.connectionOptions;
  return {
    address,
    ...(tls !== undefined && { tls }),
    ...(apiKey !== undefined && { apiKey }),
    ...(metadata && Object.keys(metadata).length > 0 && { metadata }),
  };
}

/** How the connection was secured, for messages: never the key or certificates themselves. */
export function describeSecurity(opts: TemporalConnectionOptions): string {
  const parts = [opts.tls ? (typeof opts.tls === 'object' && opts.tls.clientCertPair ? 'mTLS' : 'TLS') : 'plaintext'];
  if (opts.apiKey) parts.push('API key');
  return parts.join(', ');
}

/** Why a connection failed, as one line naming the setting. */
function unreachable(opts: TemporalConnectionOptions, err: unknown): StartupError {
  return new StartupError(
    `cannot reach Temporal at TEMPORAL_ADDRESS=${opts.address} (${describeSecurity(opts)}): ${err instanceof Error ? err.message : String(err)}`,
  );
}

export async function connectClient(address: string, namespace: string): Promise<{ client: Client; connection: Connection }> {
  const opts = temporalConnectionOptions(address);
  const connection = await Connection.connect(opts).catch((err: unknown) => {
    throw unreachable(opts, err);
  });
  return { client: tracedClient(connection, namespace), connection };
}

export function connectWorker(address: string): Promise<NativeConnection> {
  const opts = temporalConnectionOptions(address);
  return NativeConnection.connect(opts).catch((err: unknown) => {
    throw unreachable(opts, err);
  });
}
/** Registers our search attributes on a server we did not start (the dev server registers them at start). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const known = { ...listed.customAttributes, ...listed.systemAttributes };
  const missing = SEARCH_ATTRIBUTES.filter((a) => !(a.name in known));
  if (missing.length === 0) return;
  const typeEnum = { KEYWORD: 2, TEXT: 1, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 } as const;
  await connection.operatorService
    .addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((a) => [a.name, typeEnum[a.type as keyof typeof typeEnum]])),
    })
    .catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS: another process registered them first
    });
}

/** A client whose workflow starts, signals and updates carry the active trace context in their headers. */
export function tracedClient(connection: Connection, namespace: string): Client {
  return new Client({ connection, namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
}

/**
 * Runs `probe` on a fresh connection to `address` until it succeeds (a server just started may refuse or
 * not answer yet), every `intervalMs`, for up to `timeoutMs`; then throws `failure(last error)`.
 */
export async function untilTemporalAnswers(
  address: string,
  probe: (connection: Connection) => Promise<unknown>,
  opts: { timeoutMs: number; intervalMs: number; failure: (why: string) => Error },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await probe(connection);
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw opts.failure(err instanceof Error ? err.message : String(err));
      await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
  }
}
