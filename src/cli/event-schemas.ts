// `npm run events:schemas`: writes docs/event-schemas.json, the JSON Schema of every event type, from the
// zod schemas in apps/events/events.ts (a test checks the committed file is current).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { eventJsonSchemas } from '../../apps/events/events';
import { PROJECT_ROOT } from '../config';

export const EVENT_SCHEMAS_PATH = path.join(PROJECT_ROOT, 'docs', 'event-schemas.json');

export function eventSchemasJson(): string {
  return `${JSON.stringify(eventJsonSchemas(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(EVENT_SCHEMAS_PATH, eventSchemasJson());
  process.stdout.write(`wrote ${path.relative(PROJECT_ROOT, EVENT_SCHEMAS_PATH)}\n`);
}
