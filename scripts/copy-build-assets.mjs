// npm run build: what tsc does not emit — the SQL migrations — copied beside the compiled modules that read them.
import { cpSync } from 'node:fs';

for (const dir of ['src/db/migrations', 'apps/gateway/migrations', 'apps/shipping/migrations', 'packages/idempotent-sagas/src/store/migrations']) {
  cpSync(dir, `dist/${dir}`, { recursive: true });
}
