// The event broker's provisioning, on real nats-server processes: whether a server answers with JetStream,
// a server of the stack's own whose JetStream data (a stream, its message, its duplicate window) survives a
// SIGKILL and a restart on the same port and store, NATS_URL taken as given or refused with its name, and
// NATS_URL's validation.
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { loadConfig, PROJECT_ROOT } from '../../src/config';
import { findNatsServer, natsAnswers, natsServerSpec, NatsUnavailableError } from '../../src/events/nats-server';
import { SupervisedChild } from '../../src/stack/child-process';
import { Stack } from '../../src/stack/stack';

jest.setTimeout(120_000);

/** A port that was free a moment ago (the socket that proved it is closed again). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function newStack(env: Record<string, string> = {}, say?: (line: string) => void): Stack {
  return new Stack(loadConfig({ ...process.env, ...env }), pino({ level: 'silent' }), say);
}

describe('natsAnswers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nats-provision-'));
  let child: SupervisedChild | undefined;

  afterAll(async () => {
    await child?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('true for a nats-server with JetStream, false where nobody listens', async () => {
    const binary = findNatsServer(loadConfig({ ...process.env }).nats.serverPath);
    expect(binary).toBeDefined();
    const port = await freePort();
    child = new SupervisedChild(natsServerSpec({ binary: binary!, port, storeDir: path.join(dir, 'store'), logFile: path.join(dir, 'nats.log') }));
    await child.start();
    expect(await natsAnswers(`nats://127.0.0.1:${port}`)).toBe(true);
    expect(await natsAnswers(`127.0.0.1:${port}`)).toBe(true); // host:port, as NATS_URL allows
    expect(await natsAnswers(`nats://127.0.0.1:${await freePort()}`)).toBe(false);
  });
});

describe('Stack.nats', () => {
  const stacks: Stack[] = [];
  const connections: NatsConnection[] = [];

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    for (const stack of stacks) await stack.close();
  });

  async function connectTo(url: string): Promise<NatsConnection> {
    const nc = await connect({ servers: url, reconnect: false });
    connections.push(nc);
    return nc;
  }

  test("own: a nats-server of the stack's own; its stream, message and duplicate window survive a SIGKILL and restart", async () => {
    const said: string[] = [];
    const stack = newStack({}, (line) => said.push(line));
    stacks.push(stack);
    const nats = await stack.nats({ own: true });
    expect(nats.source).toBe('nats-server');
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(nats.child?.running).toBe(true);
    expect(said.join('\n')).toContain(`nats: nats-server at ${nats.url}`);
    const { args } = nats.child!.spec;
    expect(args[args.indexOf('-sd') + 1]?.startsWith(path.join(PROJECT_ROOT, '.data', 'nats') + path.sep)).toBe(true);

    let nc = await connectTo(nats.url);
    await (await jetstreamManager(nc)).streams.add({ name: 'PROVISION', subjects: ['provision.>'], storage: StorageType.File });
    const js = jetstream(nc);
    const first = await js.publish('provision.order', 'order 1 placed', { msgID: 'order-1/placed' });
    const again = await js.publish('provision.order', 'order 1 placed', { msgID: 'order-1/placed' });
    expect(first).toMatchObject({ stream: 'PROVISION', seq: 1, duplicate: false });
    expect(again).toMatchObject({ stream: 'PROVISION', seq: 1, duplicate: true });
    await nc.close();

    const child = nats.child!;
    await child.kill('SIGKILL');
    expect(child.signalCode).toBe('SIGKILL');
    expect(await natsAnswers(nats.url)).toBe(false);
    await child.start(); // same port, same store
    expect(child.starts).toBe(2);

    nc = await connectTo(nats.url);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info('PROVISION')).state.messages).toBe(1);
    const stored = await jsm.streams.getMessage('PROVISION', { seq: 1 });
    expect(stored?.string()).toBe('order 1 placed');
    expect(stored?.header.get('Nats-Msg-Id')).toBe('order-1/placed');
    // The duplicate window was rebuilt from the store: a republish after the crash is still recognised.
    const afterRestart = jetstream(nc);
    expect(await afterRestart.publish('provision.order', 'order 1 placed', { msgID: 'order-1/placed' })).toMatchObject({ seq: 1, duplicate: true });
    expect(await afterRestart.publish('provision.order', 'order 2 placed', { msgID: 'order-2/placed' })).toMatchObject({ seq: 2, duplicate: false });
  });

  test('NATS_URL: used as given when it answers with JetStream, with its source said', async () => {
    const owner = newStack();
    stacks.push(owner);
    const { url } = await owner.nats({ own: true });
    const said: string[] = [];
    const stack = newStack({ NATS_URL: url }, (line) => said.push(line));
    stacks.push(stack);
    const nats = await stack.nats();
    expect(nats).toEqual({ url, source: 'NATS_URL', child: undefined });
    expect(await stack.nats()).toBe(nats); // found once per stack
    expect(said).toEqual([`nats: ${url} (NATS_URL)`]);
  });

  test('NATS_URL where nobody answers: a NatsUnavailableError naming NATS_URL and the URL', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const stack = newStack({ NATS_URL: url });
    stacks.push(stack);
    const failure = stack.nats();
    await expect(failure).rejects.toBeInstanceOf(NatsUnavailableError);
    await expect(failure).rejects.toThrow(`the NATS server at NATS_URL=${url} does not answer`);
  });

  test('NATS_SERVER_PATH that is no executable: a NatsUnavailableError naming it', async () => {
    const stack = newStack({ NATS_SERVER_PATH: '/nonexistent/nats-server' });
    stacks.push(stack);
    await expect(stack.nats({ own: true })).rejects.toThrow(new NatsUnavailableError('NATS_SERVER_PATH=/nonexistent/nats-server is not an executable file.'));
  });
});

describe('NATS_URL validation', () => {
  test('accepts nats://, tls:// and host:port; unset or empty means unset', () => {
    for (const url of ['nats://127.0.0.1:4222', 'nats://nats:4222', 'tls://broker.example.com:4443', 'nats://user:secret@nats:4222', 'nats:4222']) {
      expect(loadConfig({ NATS_URL: url }).nats.url).toBe(url);
    }
    expect(loadConfig({}).nats).toEqual({ url: undefined, serverPath: undefined });
    expect(loadConfig({ NATS_URL: '', NATS_SERVER_PATH: '/opt/nats-server' }).nats).toEqual({ url: undefined, serverPath: '/opt/nats-server' });
  });

  test.each(['http://127.0.0.1:4222', 'nats://', '127.0.0.1', 'nats://host:4222/path', 'not a url'])('rejects %s, naming NATS_URL', (url) => {
    expect(() => loadConfig({ NATS_URL: url })).toThrow(/NATS_URL: a NATS server URL/);
  });
});
