// `npm run start:relay`: the outbox relay as its own process. Several may run; one publishes at a time.
import { OutboxRelay } from './relay';
import { relaySettings, runEventServiceMain } from './service';

runEventServiceMain({
  service: { role: 'relay', logName: 'relay', name: 'outbox relay' },
  httpPort: (events) => events.relayHttpPort,
  start: ({ events, ...deps }) => OutboxRelay.start({ ...deps, ...relaySettings(events, deps.logger) }),
});
