// Gateway settings in loadConfig: defaults, derived URL, and errors that name the variable.
import { ConfigError, DEV_WEBHOOK_SECRET, loadConfig } from '../../src/config';

test('defaults', () => {
  expect(loadConfig({}).gateway).toEqual({
    port: 4010,
    host: '127.0.0.1',
    url: 'http://127.0.0.1:4010',
    timeoutMs: 5000,
    faults: undefined,
    webhookUrl: undefined,
    webhookDelayMs: 1000,
    webhookSecret: DEV_WEBHOOK_SECRET,
    webhookToleranceSeconds: 300,
  });
});

test('the URL follows the port unless set; faults are parsed JSON, kept as given', () => {
  const gateway = loadConfig({
    GATEWAY_PORT: '4999',
    GATEWAY_FAULTS: '{"declineRate":0.25,"seed":7}',
    GATEWAY_WEBHOOK_URL: 'http://127.0.0.1:3000/v1/webhooks/payments',
    WEBHOOK_SECRET: 'whsec_0123456789abcdef',
  }).gateway;
  expect(gateway).toMatchObject({ port: 4999, url: 'http://127.0.0.1:4999', faults: { declineRate: 0.25, seed: 7 } });
  expect(loadConfig({ GATEWAY_URL: 'http://gateway:4010/' }).gateway.url).toBe('http://gateway:4010');
  expect(loadConfig({ GATEWAY_FAULTS: '' }).gateway.faults).toBeUndefined();
});

test('a bad value names the variable', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ GATEWAY_FAULTS: '{not json' }, /GATEWAY_FAULTS: not valid JSON/],
    [{ GATEWAY_FAULTS: '{"declineRate":2}' }, /GATEWAY_FAULTS: declineRate: /],
    [{ GATEWAY_FAULTS: '{"typo":1}' }, /GATEWAY_FAULTS: /],
    [{ GATEWAY_PORT: '70000' }, /GATEWAY_PORT/],
    [{ GATEWAY_TIMEOUT_MS: '0' }, /GATEWAY_TIMEOUT_MS/],
    [{ GATEWAY_WEBHOOK_URL: 'ftp://x' }, /GATEWAY_WEBHOOK_URL/],
    [{ WEBHOOK_SECRET: 'short' }, /WEBHOOK_SECRET/],
  ];
  for (const [env, message] of bad) {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  }
});
