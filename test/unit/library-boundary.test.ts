// The layering is enforced by lint, and the lint rule can fail: each forbidden import below is
// reported, each allowed one is not (linted as if the code sat at the given path, with the project's config).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
type Case = { filePath: string; code: string; forbidden: boolean };

const CASES: Case[] = [
  // The library imports nothing from the apps.
  {
    filePath: 'packages/idempotent-sagas/src/store/x.ts',
    code: "import { StartupError } from '../../../../src/errors';\nexport const e = StartupError;\n",
    forbidden: true,
  },
  {
    filePath: 'packages/idempotent-sagas/src/activity/x.ts',
    code: "import { createActivities } from '../../../../apps/worker/activities';\nexport const a = createActivities;\n",
    forbidden: true,
  },
  { filePath: 'packages/idempotent-sagas/src/store/x.ts', code: "import { validateKey } from '../keys';\nexport const v = validateKey;\n", forbidden: false },
  // The library's workflow entry (and what it imports) stays sandbox-safe; its store may use Node.
  { filePath: 'packages/idempotent-sagas/src/workflow/x.ts', code: "import fs from 'node:fs';\nexport const f = fs;\n", forbidden: true },
  { filePath: 'packages/idempotent-sagas/src/keys.ts', code: "import { Pool } from 'pg';\nexport const p = Pool;\n", forbidden: true },
  { filePath: 'packages/idempotent-sagas/src/store/x.ts', code: "import fs from 'node:fs';\nexport const f = fs;\n", forbidden: false },
  // The apps reach the library only by its entry points.
  {
    filePath: 'apps/orders/api/x.ts',
    code: "import { IdempotencyStore } from '../../packages/idempotent-sagas/src/store/store';\nexport const s = IdempotencyStore;\n",
    forbidden: true,
  },
  {
    filePath: 'apps/orders/activities/x.ts',
    code: "import { recordStatements } from 'idempotent-sagas/store/records';\nexport const r = recordStatements;\n",
    forbidden: true,
  },
  { filePath: 'apps/orders/workflows/x.ts', code: "import type { Saga } from 'idempotent-sagas';\nexport type S = Saga;\n", forbidden: true },
  { filePath: 'test/unit/x.ts', code: "import { IdempotencyStore } from 'idempotent-sagas/store';\nexport const s = IdempotencyStore;\n", forbidden: false },
  { filePath: 'apps/orders/workflows/x.ts', code: "import { Saga } from 'idempotent-sagas/workflow';\nexport const s = Saga;\n", forbidden: false },
  // The apps' workflow code stays in the sandbox too.
  { filePath: 'apps/wallet/workflow.ts', code: "import { Pool } from 'pg';\nexport const p = Pool;\n", forbidden: true },
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
