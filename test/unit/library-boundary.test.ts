// The layering is enforced by lint, and the lint rule can fail: each forbidden import below is
// reported, each allowed one is not (linted as if the code sat at the given path, with the project's config).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
type Case = { filePath: string; code: string; forbidden: boolean };
const forbid = (filePath: string, code: string): Case => ({ filePath, code, forbidden: true });
const allow = (filePath: string, code: string): Case => ({ filePath, code, forbidden: false });

const CASES: Case[] = [
  // The library imports nothing from the apps.
  forbid('packages/idempotent-sagas/src/store/x.ts', "import { StartupError } from '../../../../src/errors';\nexport const e = StartupError;\n"),
  forbid(
    'packages/idempotent-sagas/src/activity/x.ts',
    "import { createActivities } from '../../../../apps/worker/activities';\nexport const a = createActivities;\n",
  ),
  allow('packages/idempotent-sagas/src/store/x.ts', "import { validateKey } from '../keys';\nexport const v = validateKey;\n"),
  // The library's workflow entry (and what it imports) stays sandbox-safe; its store may use Node.
  forbid('packages/idempotent-sagas/src/workflow/x.ts', "import fs from 'node:fs';\nexport const f = fs;\n"),
  forbid('packages/idempotent-sagas/src/keys.ts', "import { Pool } from 'pg';\nexport const p = Pool;\n"),
  allow('packages/idempotent-sagas/src/store/x.ts', "import fs from 'node:fs';\nexport const f = fs;\n"),
  // The apps reach the library only by its entry points.
  forbid('apps/orders/api/x.ts', "import { IdempotencyStore } from '../../packages/idempotent-sagas/src/store/store';\nexport const s = IdempotencyStore;\n"),
  forbid('apps/orders/activities/x.ts', "import { recordStatements } from 'idempotent-sagas/store/records';\nexport const r = recordStatements;\n"),
  forbid('apps/orders/workflows/x.ts', "import type { Saga } from 'idempotent-sagas';\nexport type S = Saga;\n"),
  allow('test/unit/x.ts', "import { IdempotencyStore } from 'idempotent-sagas/store';\nexport const s = IdempotencyStore;\n"),
  allow('apps/orders/workflows/x.ts', "import { Saga } from 'idempotent-sagas/workflow';\nexport const s = Saga;\n"),
  // The apps' workflow code stays in the sandbox too.
  forbid('apps/wallet/workflow.ts', "import { Pool } from 'pg';\nexport const p = Pool;\n"),
];

test('the library/app boundary: every forbidden import is reported, no allowed one is', () => {
  const run = spawnSync(process.execPath, [path.join(ROOT, 'test/helpers/lint-imports.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(CASES.map(({ filePath, code }) => ({ filePath, code }))),
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  const results = JSON.parse(run.stdout) as Array<{ filePath: string; messages: Array<{ ruleId: string | null; message: string }> }>;
  const seen = results.map((r, i) => ({
    filePath: r.filePath,
    code: CASES[i]!.code.split('\n')[0],
    reported: r.messages.some((m) => m.ruleId === 'no-restricted-imports'),
  }));
  expect(seen).toEqual(CASES.map((c) => ({ filePath: c.filePath, code: c.code.split('\n')[0], reported: c.forbidden })));
  // Nothing else (a parse error, say) was reported: the rule itself decided.
  expect(results.flatMap((r) => r.messages.filter((m) => m.ruleId !== 'no-restricted-imports'))).toEqual([]);
}, 60_000);
