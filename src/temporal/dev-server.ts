// The project's dev server: the library's, with the search attributes our sagas publish registered.
import { startDevServer as startLibraryDevServer, type DevServer, type DevServerOptions } from 'idempotent-sagas/testing';
import { SEARCH_ATTRIBUTES } from '../../apps/worker/search-attributes';

export type { DevServer, DevServerOptions };

export function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  return startLibraryDevServer({ searchAttributes: SEARCH_ATTRIBUTES, ...opts });
}
