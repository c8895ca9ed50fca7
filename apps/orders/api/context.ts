// What every route of the API is given.
import type { Client } from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type { Tenant } from '../domain/tenants';
import type { IdempotencyStore } from 'idempotent-sagas/store';
import type { SagaLifetimeOptions } from 'idempotent-sagas/workflow';
import type { ApiMetrics } from './metrics';

/** Where the API starts and finds sagas. */
export type ApiTemporal = {
  client: Client;
  taskQueue: string;
  /** The client shares its NativeConnection with a worker of `taskQueue` in this process: start sagas eagerly on it. */
  eagerStart?: boolean;
};

export type ApiContext = {
  pool: Pool;
  store: IdempotencyStore;
  temporal: ApiTemporal;
  metrics: ApiMetrics;
  /** Identifies this app instance in lease owners (`api:<instance>:<request id>`). */
  instanceId: string;
  /** Test-only fault: ms POST /v1/orders waits after starting the saga, before storing the response (0 = off). */
  faultPauseAfterStartMs: number;
  /** Stuck-compensation options of the sagas this API starts; undefined = the workflow's defaults. */
  sagaOptions: SagaLifetimeOptions | undefined;
  /** The tenant the bearer key authenticated; set by the /v1 auth hook before any handler runs. */
  tenantOf(request: FastifyRequest): Tenant;
};
