// The project's dev server: the library's, with the search attributes our sagas publish registered and
// the server's eager dispatch turned on (see LATENCY_DYNAMIC_CONFIG).
import { startDevServer as startLibraryDevServer, type DevServer, type DevServerOptions } from 'idempotent-sagas/testing';
import { SEARCH_ATTRIBUTES } from '../../apps/worker/search-attributes';

export type { DevServer, DevServerOptions };

/**
 * What a server needs for the order saga's low latency (a production cluster sets the same two values in
 * its dynamic config): an activity scheduled by a workflow task goes back to that worker in the task's
 * answer, and a workflow started by a client that shares its connection with a worker starts on it.
 */
export const LATENCY_DYNAMIC_CONFIG = {
  'system.enableActivityEagerExecution': true,
  'system.enableEagerWorkflowStart': true,
} as const;

export function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  return startLibraryDevServer({ searchAttributes: SEARCH_ATTRIBUTES, dynamicConfig: LATENCY_DYNAMIC_CONFIG, ...opts });
}
