// Type-aware lint. Two rules are enforced here, not by review:
// - the workflow sandbox: workflow code (the apps' and the library's) imports no Node builtins, pg or the database module;
// - the library boundary: packages/idempotent-sagas imports nothing from the apps, and the apps import
//   the library only through its entry points (idempotent-sagas/workflow, activity, store, fastify, testing).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const LIBRARY = 'packages/idempotent-sagas';
/** The library's sources a workflow bundle takes in: its workflow entry and what that imports. */
const LIBRARY_SANDBOXED = [`${LIBRARY}/src/workflow/**/*.ts`, `${LIBRARY}/src/keys.ts`, `${LIBRARY}/src/errors.ts`];
/** An app reaches the library by its package name and an entry point, never by a path into it. */
const APP_IMPORTS_OF_THE_LIBRARY = [
  {
    group: ['**/packages/idempotent-sagas', '**/packages/idempotent-sagas/**'],
    message: 'Import the library by its entry points (idempotent-sagas/workflow, activity, store, fastify, testing), not by a path into it.',
  },
  {
    regex: '^idempotent-sagas(?!/(workflow|activity|store|fastify|testing)$)',
    message: 'Import the library by one of its entry points: idempotent-sagas/workflow, activity, store, fastify or testing.',
  },
];
/** The library never imports an app: nothing outside its own folder, by a relative path that leaves it. */
const LIBRARY_IMPORTS = [
  {
    group: ['../../*', '../../../**'],
    message: 'The library imports nothing outside packages/idempotent-sagas/src (the apps depend on it, never the reverse).',
  },
];
/** The apps' workflow code: what the worker's workflow bundle takes in. */
const WORKFLOW_CODE = [
  'apps/*/workflows/**/*.ts',
  'apps/wallet/workflow.ts',
  'apps/worker/workflows.ts',
  'apps/worker/interceptors.ts',
  'apps/worker/saga-status.ts',
  'apps/worker/saga-plumbing.ts',
];
const SANDBOX_PATHS = [
  ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a deterministic sandbox: no Node builtins.' })),
  { name: 'pg', message: 'Workflows never touch the database; do it in an activity.' },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.data/**', 'coverage/**', 'bench/out/**', 'test/fixtures/**', 'src/api-client/schema.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'test/helpers/*.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // An example is its own package; linted here through the root project, where the library resolves to its sources.
    files: ['examples/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false, project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ['apps/**/*.ts', 'src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: APP_IMPORTS_OF_THE_LIBRARY }] },
  },
  {
    files: WORKFLOW_CODE,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: SANDBOX_PATHS,
          patterns: [
            ...APP_IMPORTS_OF_THE_LIBRARY,
            { group: ['**/src/db', '**/src/db/**'], message: 'Workflows never touch the database; do it in an activity.' },
            {
              group: ['**/orders/activities', '**/orders/activities/*', '**/wallet/activities'],
              message: 'Import activities by type only, from apps/worker/activities.',
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
    },
  },
  {
    files: [`${LIBRARY}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: LIBRARY_IMPORTS }] },
  },
  {
    files: LIBRARY_SANDBOXED,
    rules: { 'no-restricted-imports': ['error', { paths: SANDBOX_PATHS, patterns: LIBRARY_IMPORTS }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Plain-Node helper scripts (the tests', the build's): JavaScript without type information to check against.
    files: ['test/helpers/*.mjs', 'scripts/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
