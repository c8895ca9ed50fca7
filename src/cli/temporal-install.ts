// `npm run temporal:install`: make sure the Temporal CLI exists (found, or built with go install). CI runs it before the tests.
import { loadConfig } from '../config';
import { HOW_TO_GET_TEMPORAL, findTemporalCli, installTemporalCli } from 'idempotent-sagas/testing';
import { runMain } from './run-main';

runMain(async () => {
  const config = loadConfig();
  const found = findTemporalCli(config.temporal.cliPath) ?? installTemporalCli((l) => process.stderr.write(`${l}\n`));
  if (!found) {
    process.stderr.write(`${HOW_TO_GET_TEMPORAL}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(found)}\n`);
  return 0;
});
