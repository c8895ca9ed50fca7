// What NODE_ENV=production refuses, in one place. Called by the API's, the gateway's, the relay's and the consumer's entrypoints
// right after loadConfig, before they connect to anything: a refused setting stops start-up with a
// ConfigError (printed as `error: …`, exit 2 by runMain) naming every offending variable.
import { type Config, ConfigError, DEV_WEBHOOK_SECRET } from './config';

export type ProductionRole = 'api' | 'gateway' | 'relay' | 'consumer';

/** Every reason `config` is unfit for production in `role`, one line each naming its variable; empty when fit (or not production). */
export function productionViolations(config: Config, role: ProductionRole): string[] {
  if (!config.production) return [];
  const out: string[] = [];
  // Both sides of the webhook HMAC: the development secret is public, so anyone could sign an event.
  if ((role === 'api' || role === 'gateway') && config.gateway.webhookSecret === DEV_WEBHOOK_SECRET) {
    out.push(
      'WEBHOOK_SECRET: unset or the public development value (DEV_WEBHOOK_SECRET in src/config.ts); set a private secret of at least 16 characters, the same for the API and the gateway',
    );
  }
  if (role === 'api' && config.api.faultPauseAfterStartMs > 0) {
    out.push(`API_FAULT_PAUSE_AFTER_START_MS: a test-only fault (got ${config.api.faultPauseAfterStartMs}); unset it or set 0`);
  }
  if (role === 'gateway' && config.gateway.faults !== undefined) {
    out.push('GATEWAY_FAULTS: a test-only fault configuration; unset it');
  }
  if (role === 'relay' && config.events.relayFaultPauseAfterPublishMs > 0) {
    out.push(`RELAY_FAULT_PAUSE_AFTER_PUBLISH_MS: a test-only fault (got ${config.events.relayFaultPauseAfterPublishMs}); unset it or set 0`);
  }
  if (role === 'consumer' && config.events.consumerFaultPauseAfterApplyMs > 0) {
    out.push(`CONSUMER_FAULT_PAUSE_AFTER_APPLY_MS: a test-only fault (got ${config.events.consumerFaultPauseAfterApplyMs}); unset it or set 0`);
  }
  return out;
}

/** Throws a ConfigError listing every violation when NODE_ENV=production; does nothing otherwise. */
export function assertProductionSafe(config: Config, role: ProductionRole): void {
  const violations = productionViolations(config, role);
  if (violations.length === 0) return;
  throw new ConfigError(`Refusing to start the ${role} with NODE_ENV=production:\n${violations.map((v) => `  ${v}`).join('\n')}`);
}
