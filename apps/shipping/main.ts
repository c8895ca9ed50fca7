// `npm run start:consumer`: the shipping service, an example consumer of the order events, as its own process.
import { runMain } from '../../src/cli/run-main';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { assertProductionSafe } from '../../src/production-checks';
import { consumerSettings, faultPause, runEventService } from '../events/service';
import { ShippingConsumer } from './consumer';
import { SHIPPING_MIGRATIONS } from './schema';

runMain(async () => {
  const config = loadConfig();
  assertProductionSafe(config, 'consumer');
  const logger = createLogger(config, 'shipping');
  const { events } = config;
  await runEventService({
    config,
    logger,
    name: 'shipping consumer',
    migrations: SHIPPING_MIGRATIONS,
    httpPort: events.consumerHttpPort,
    start: (deps) =>
      ShippingConsumer.start({
        ...deps,
        logger,
        ...consumerSettings(events),
        hooks: { afterApply: () => faultPause(logger, events.consumerFaultPauseAfterApplyMs, 'applying') },
      }),
  });
});
