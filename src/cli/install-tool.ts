// `npm run temporal:install` and `npm run nats:install`: make sure a Go-built tool the stack runs exists (its
// *_PATH setting, PATH, Go's bin directory, or built with go install) and print where. CI runs both before the tests.
import { HOW_TO_GET_TEMPORAL, findTemporalCli, installTemporalCli } from 'idempotent-sagas/testing';
import { loadConfig } from '../config';
import { HOW_TO_GET_NATS, findNatsServer, installNatsServer } from '../events/nats-server';
import { UsageError, runMain } from './run-main';

const say = (line: string): void => void process.stderr.write(`${line}\n`);

runMain(async () => {
  const config = loadConfig();
  const tools = {
    temporal: () => ({ found: findTemporalCli(config.temporal.cliPath) ?? installTemporalCli(say), howTo: HOW_TO_GET_TEMPORAL }),
    nats: () => ({ found: findNatsServer(config.nats.serverPath) ?? installNatsServer(say), howTo: HOW_TO_GET_NATS }),
  };
  const tool = process.argv[2];
  if (tool !== 'temporal' && tool !== 'nats') throw new UsageError(`install-tool takes temporal or nats (got ${tool ?? 'nothing'})`);
  const { found, howTo } = tools[tool]();
  if (!found) {
    say(howTo);
    return 1;
  }
  process.stdout.write(`${typeof found === 'string' ? found : JSON.stringify(found)}\n`);
  return 0;
});
