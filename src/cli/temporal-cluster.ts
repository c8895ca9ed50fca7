// `npm run temporal:cluster`: a real Temporal cluster for this machine, until Ctrl-C: the server v1.29.1 on
// PostgreSQL (DATABASE_URL, or the embedded one) in databases of its own (temporal_cluster*), with frontend,
// two history, matching and worker services as separate processes. `--install-only` builds the server and
// its SQL tool (go install) and exits. Point the apps at it with TEMPORAL_ADDRESS, or run them with
// TEMPORAL_MODE=cluster to have them start one of their own.
import { Command } from 'commander';
import { parseCommand } from './options';
import { findClusterBinaries } from '../temporal/cluster';
import { Stack } from '../stack/stack';
import { EXIT_INTERRUPTED, onInterrupt, runCommand } from './command';

type Options = { installOnly: boolean };

function parseOptions(argv: string[]): Options | 'help' {
  const program = new Command('temporal:cluster')
    .description('Runs a Temporal cluster (server 1.29.1 on PostgreSQL, one process per service) until Ctrl-C')
    .option('--install-only', 'only build the server and its SQL tool with go install, then exit', false);
  if (parseCommand(program, argv, (t) => process.stdout.write(t)) === 'help') return 'help';
  return program.opts<Options>();
}

runCommand('temporal-cluster', parseOptions, async ({ options, config, logger, say }) => {
  if (options.installOnly) {
    process.stdout.write(`${JSON.stringify(findClusterBinaries(say))}\n`);
    return 0;
  }
  const stack = new Stack(config, logger, say);
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  onInterrupt((signal, count) => {
    if (count > 1) process.exit(EXIT_INTERRUPTED);
    say(`\n${signal}: stopping the cluster (again to exit at once)`);
    stop();
  });
  try {
    const cluster = await stack.cluster();
    say(`TEMPORAL_ADDRESS=${cluster.address}   (namespace ${config.temporal.namespace}; Ctrl-C stops the cluster)`);
    await stopped;
  } finally {
    await stack.close();
  }
  return 0;
});
