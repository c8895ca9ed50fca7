// `npm run start:relay`: the outbox relay as its own process. Several may run; one publishes at a time.
import { runMain } from '../../src/cli/run-main';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { assertProductionSafe } from '../../src/production-checks';
import { OutboxRelay } from './relay';
import { faultPause, relaySettings, runEventService } from './service';

runMain(async () => {
  const config = loadConfig();
  assertProductionSafe(config, 'relay');
  const logger = createLogger(config, 'relay');
  const { events } = config;
  await runEventService({
    config,
    logger,
    name: 'outbox relay',
    httpPort: events.relayHttpPort,
    start: (deps) =>
      OutboxRelay.start({
        ...deps,
        logger,
        ...relaySettings(events),
        hooks: { afterPublish: () => faultPause(logger, events.relayFaultPauseAfterPublishMs, 'publishing') },
      }),
  });
});
