// NODE_ENV=production refuses the public development webhook secret and test-only faults; without it
// nothing is refused, so `npm start`, the demo, chaos and the tests run with no configuration.
import { ConfigError, DEV_WEBHOOK_SECRET, loadConfig } from '../../src/config';
import { assertProductionSafe, productionViolations } from '../../src/production-checks';

const SECRET = 'whsec_a_real_private_secret_0123456789';
const prod = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'production', ...env });

describe('assertProductionSafe', () => {
  test.each(['api', 'gateway'] as const)('%s: not production → nothing is refused, whatever is set', (role) => {
    for (const env of [{}, { NODE_ENV: 'development' }, { NODE_ENV: 'test', API_FAULT_PAUSE_AFTER_START_MS: '500', GATEWAY_FAULTS: '{"declineRate":0.5}' }]) {
      const config = loadConfig(env);
      expect(config.gateway.webhookSecret).toBe(DEV_WEBHOOK_SECRET);
      expect(productionViolations(config, role)).toEqual([]);
      expect(() => assertProductionSafe(config, role)).not.toThrow();
    }
  });

  test.each(['api', 'gateway'] as const)('%s: production with WEBHOOK_SECRET unset or the development value → ConfigError naming WEBHOOK_SECRET', (role) => {
    for (const config of [prod(), prod({ WEBHOOK_SECRET: DEV_WEBHOOK_SECRET })]) {
      expect(() => assertProductionSafe(config, role)).toThrow(ConfigError);
      expect(() => assertProductionSafe(config, role)).toThrow(/WEBHOOK_SECRET: unset or the public development value/);
      expect(() => assertProductionSafe(config, role)).toThrow(`Refusing to start the ${role} with NODE_ENV=production`);
      expect(productionViolations(config, role)).toHaveLength(1);
    }
  });

  test.each(['api', 'gateway'] as const)('%s: production with a private secret and no faults starts', (role) => {
    const config = prod({ WEBHOOK_SECRET: SECRET, API_FAULT_PAUSE_AFTER_START_MS: '0' });
    expect(productionViolations(config, role)).toEqual([]);
    expect(() => assertProductionSafe(config, role)).not.toThrow();
  });

  test('api: API_FAULT_PAUSE_AFTER_START_MS > 0 is refused in production; GATEWAY_FAULTS is not the API’s concern', () => {
    const config = prod({ WEBHOOK_SECRET: SECRET, API_FAULT_PAUSE_AFTER_START_MS: '1', GATEWAY_FAULTS: '{}' });
    expect(productionViolations(config, 'api')).toEqual([expect.stringMatching(/^API_FAULT_PAUSE_AFTER_START_MS: a test-only fault \(got 1\)/)]);
    expect(() => assertProductionSafe(config, 'api')).toThrow(/API_FAULT_PAUSE_AFTER_START_MS/);
  });

  test('gateway: GATEWAY_FAULTS (even an empty object) is refused in production; the API’s pause is not the gateway’s concern', () => {
    for (const faults of ['{}', '{"declineRate":0.1}']) {
      const config = prod({ WEBHOOK_SECRET: SECRET, GATEWAY_FAULTS: faults, API_FAULT_PAUSE_AFTER_START_MS: '100' });
      expect(productionViolations(config, 'gateway')).toEqual([expect.stringMatching(/^GATEWAY_FAULTS: a test-only fault configuration/)]);
      expect(() => assertProductionSafe(config, 'gateway')).toThrow(/GATEWAY_FAULTS/);
    }
  });

  test('every violation is listed in one error, one line each', () => {
    let message = '';
    try {
      assertProductionSafe(prod({ API_FAULT_PAUSE_AFTER_START_MS: '250' }), 'api');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'Refusing to start the api with NODE_ENV=production:',
      expect.stringMatching(/^ {2}WEBHOOK_SECRET: /),
      expect.stringMatching(/^ {2}API_FAULT_PAUSE_AFTER_START_MS: /),
    ]);
  });
});
