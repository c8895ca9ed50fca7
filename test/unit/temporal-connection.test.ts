// Temporal connection security by the SDK's environment conventions: plaintext by default, an API key
// (which turns TLS on), TLS with a CA and a server name, mTLS from files; a missing file is one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StartupError } from '../../src/errors';
import { describeSecurity, temporalConnectionOptions } from '../../src/temporal/connection';

const ADDRESS = 'my-ns.a1b2c.tmprl.cloud:7233';
const options = (env: Record<string, string>) => temporalConnectionOptions(ADDRESS, { env, disableFile: true });

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
  for (const name of ['client.pem', 'client.key', 'ca.pem']) fs.writeFileSync(path.join(dir, name), `-----BEGIN ${name}-----\n`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('nothing set: plaintext, our address', () => {
  expect(options({})).toEqual({ address: ADDRESS });
  expect(describeSecurity(options({}))).toBe('plaintext');
});

test('TEMPORAL_API_KEY: the key is sent and TLS turns on (Temporal Cloud)', () => {
  const opts = options({ TEMPORAL_API_KEY: 'k-123' });
  expect(opts).toEqual({ address: ADDRESS, apiKey: 'k-123', tls: true });
  expect(describeSecurity(opts)).toBe('TLS, API key');
  expect(describeSecurity(opts)).not.toContain('k-123');
});

test('TEMPORAL_TLS with a CA and a server name; TEMPORAL_TLS=false keeps it off', () => {
  const opts = options({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'ca.pem'), TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
  expect(opts.tls).toMatchObject({ serverNameOverride: 'temporal.internal', serverRootCACertificate: Buffer.from('-----BEGIN ca.pem-----\n') });
  expect(describeSecurity(opts)).toBe('TLS');
  expect(options({ TEMPORAL_TLS: 'false' })).toEqual({ address: ADDRESS, tls: false });
});

test('mTLS: the client certificate pair is read from the files named', () => {
  const opts = options({ TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'client.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key') });
  expect(opts.tls).toMatchObject({ clientCertPair: { crt: Buffer.from('-----BEGIN client.pem-----\n'), key: Buffer.from('-----BEGIN client.key-----\n') } });
  expect(describeSecurity(opts)).toBe('mTLS');
});

test('a certificate file that does not exist: a StartupError naming the settings, not a stack', () => {
  const missing = path.join(dir, 'nope.pem');
  expect(() => options({ TEMPORAL_TLS_CLIENT_CERT_PATH: missing, TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key') })).toThrow(StartupError);
  expect(() => options({ TEMPORAL_TLS_CLIENT_CERT_PATH: missing, TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key') })).toThrow(
    /^Temporal connection settings \(TEMPORAL_TLS_\*.*nope\.pem/,
  );
});
