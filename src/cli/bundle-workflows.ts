// `npm run build` (last step): the workflow bundle, prebuilt, so a worker started with
// WORKFLOW_BUNDLE_PATH skips the seconds of bundling at every start.
import path from 'node:path';
import { writeWorkflowBundle } from '../../apps/worker/order-worker';
import { runMain, UsageError } from './run-main';

runMain(async () => {
  const out = process.argv[2];
  if (!out) throw new UsageError('usage: bundle-workflows <output file>');
  await writeWorkflowBundle(path.resolve(out));
  process.stdout.write(`wrote ${out}\n`);
});
