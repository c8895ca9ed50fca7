/** @type {import('jest').Config} */
module.exports = {
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
    // The migration runner is ESM-only; jest's module registry loads CommonJS only (before Node 24.9).
    '/node_modules/node-pg-migrate/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!node-pg-migrate/)'],
  roots: ['<rootDir>/test'],
  // The library's entry points from its sources, as tsconfig.json's paths map them.
  moduleNameMapper: { '^idempotent-sagas/(workflow|activity|store|fastify|testing)$': '<rootDir>/packages/idempotent-sagas/src/$1/index.ts' },
  testMatch: ['**/*.test.ts'],
  // Starts (or finds) Postgres once and builds the migrated template every test database is cloned from.
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 60_000,
  // Workers and pools must close; a leaked handle fails the run instead of hanging it. The environment
  // checks, after each file's afterAll hooks, for what the file left keeping the process alive (sockets,
  // servers, child processes, worker threads, timers) and fails that file naming the types; forceExit
  // then ends jest even so, since the leaked handle would otherwise keep a --runInBand run (any
  // single-file run) alive for ever after reporting. detectOpenHandles stays off: it only prints
  // (never fails), forces the run in band and slows every test through async hooks; turn it on by hand
  // (`npx jest --detectOpenHandles <file>`) to get the stack that opened a handle the check reported.
  testEnvironment: '<rootDir>/test/helpers/leak-check-environment.ts',
  detectOpenHandles: false,
  forceExit: true,
};
