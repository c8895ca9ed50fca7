// `npm run start:consumer`: the shipping service, an example consumer of the order events, as its own process.
import { consumerSettings, runEventServiceMain } from '../events/service';
import { ShippingConsumer } from './consumer';
import { SHIPPING_MIGRATIONS } from './schema';

runEventServiceMain({
  service: { role: 'consumer', logName: 'shipping', name: 'shipping consumer' },
  migrations: SHIPPING_MIGRATIONS,
  httpPort: (events) => events.consumerHttpPort,
  start: ({ events, ...deps }) => ShippingConsumer.start({ ...deps, ...consumerSettings(events, deps.logger) }),
});
