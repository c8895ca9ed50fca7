// idempotent-sagas/testing: what a user needs to prove their own saga: Postgres and a Temporal dev server
// for tests, a fresh migrated database per test, and counted fault injection around activities.
export { EnvironmentUnavailableError } from './environment-error';
export { createTestDatabase, findPostgres, type FindPostgresOptions, type TestDatabase, type TestDatabaseOptions, type TestPostgres } from './postgres';
export { createDatabase, databaseUrl, describeDatabaseUrl, dropDatabase, whyUnreachable } from './databases';
export { EMBEDDED_DATABASE, EmbeddedPostgresError, portAnswers, startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres';
export { dynamicConfigArgs, findTemporal, startDevServer, type DevServer, type DevServerOptions, type TestTemporal } from './dev-server';
export { findGoBinary, goBinDirs, goInstall, isExecutableFile, type GoBinaryLocation } from './go-tools';
export { HOW_TO_GET_TEMPORAL, TEMPORAL_CLI_MODULE, TemporalUnavailableError, findTemporalCli, installTemporalCli, type CliLocation } from './temporal-cli';
export { FaultInjector, INJECTED_FAULT, type ActivityFaultCounts, type Fault } from './faults';
