// The one error class of the test environment: a service could not be found or started.

/** Postgres or Temporal could not be found or started; the message names what was tried and what to do. */
export class EnvironmentUnavailableError extends Error {
  override readonly name: string = 'EnvironmentUnavailableError';
}
