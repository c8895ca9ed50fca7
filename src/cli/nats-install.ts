// `npm run nats:install`: make sure the nats-server binary exists (NATS_SERVER_PATH, PATH, Go's bin directory,
// or built with go install) and print its path. CI runs it before the tests.
import { loadConfig } from '../config';
import { HOW_TO_GET_NATS, findNatsServer, installNatsServer } from '../events/nats-server';
import { runMain } from './run-main';

runMain(async () => {
  const config = loadConfig();
  const found = findNatsServer(config.nats.serverPath) ?? installNatsServer((l) => process.stderr.write(`${l}\n`));
  if (!found) {
    process.stderr.write(`${HOW_TO_GET_NATS}\n`);
    return 1;
  }
  process.stdout.write(`${found}\n`);
  return 0;
});
