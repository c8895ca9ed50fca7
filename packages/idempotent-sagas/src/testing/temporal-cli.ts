// Finding (or building) the `temporal` CLI whose dev server runs tests and demos (DESIGN §9).
import { EnvironmentUnavailableError } from './environment-error';
import { findGoBinary, goInstall, isExecutableFile } from './go-tools';

/** The newest CLI release whose go.mod has no replace directive, so `go install` accepts it. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

/** Where the CLI was found, and by which rule. */
export type CliLocation = {
  path: string;
  foundBy: 'TEMPORAL_CLI_PATH' | 'PATH' | 'GOPATH' | 'go install';
};

/** No Temporal could be found or started; the message says what to do. */
export class TemporalUnavailableError extends EnvironmentUnavailableError {
  override readonly name = 'TemporalUnavailableError';
}

/** TEMPORAL_CLI_PATH, then `temporal` on PATH, then in Go's bin directory ($(go env GOPATH)/bin and the like). */
export function findTemporalCli(cliPath: string | undefined, pathVar = process.env.PATH): CliLocation | undefined {
  if (cliPath) {
    if (!isExecutableFile(cliPath)) throw new TemporalUnavailableError(`TEMPORAL_CLI_PATH=${cliPath} is not an executable file.`);
    return { path: cliPath, foundBy: 'TEMPORAL_CLI_PATH' };
  }
  return findGoBinary('temporal', pathVar);
}

/** Builds the CLI with `go install` when Go is present; undefined when it is not. */
export function installTemporalCli(log: (line: string) => void): CliLocation | undefined {
  try {
    const built = goInstall(TEMPORAL_CLI_MODULE, 'temporal', log);
    return built ? { path: built, foundBy: 'go install' } : undefined;
  } catch (err) {
    throw new TemporalUnavailableError((err as Error).message);
  }
}

/** What a user can do when no Temporal is available. */
export const HOW_TO_GET_TEMPORAL = [
  'Temporal is needed and none could be found or started. Any one of these works:',
  '  1. set TEMPORAL_ADDRESS to a running Temporal server (host:port);',
  '  2. put the `temporal` CLI on PATH, or set TEMPORAL_CLI_PATH to it;',
  `  3. install Go, and the project builds it with: go install ${TEMPORAL_CLI_MODULE}`,
  "(the Temporal SDK's own download is tried last and needs internet access).",
].join('\n');
