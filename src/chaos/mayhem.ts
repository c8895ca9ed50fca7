// The faults of a chaos run, each kind on its own seeded schedule until stop(): SIGKILL a worker and start
// it again, SIGKILL the Temporal dev server and start it again on the same file (or, on a cluster, SIGKILL
// one frontend, history or matching process and start it again), SIGKILL the gateway and start it again,
// terminate Postgres backends of the services; with events, SIGKILL a relay, a shipping consumer or NATS
// and start it again. A service that dies by itself is started again.
import type { Pool } from 'pg';
import type { Random } from '../random';
import type { SupervisedChild } from '../stack/child-process';
import { type ChaosEvents, HARNESS_APPLICATION_NAME } from './stack';

/** The cluster's service kinds that chaos kills. */
export const KILLED_TEMPORAL_SERVICES = ['frontend', 'history', 'matching'] as const;
export type KilledTemporalService = (typeof KILLED_TEMPORAL_SERVICES)[number];

export type MayhemCounts = {
  workerKills: number;
  temporalRestarts: number;
  /** SIGKILLs of a cluster's service processes, by kind (all 0 on a dev server). */
  temporalServiceKills: Record<KilledTemporalService, number>;
  gatewayRestarts: number;
  /** Rounds of pg_terminate_backend, and backends terminated in them. */
  pgTerminations: number;
  pgBackendsTerminated: number;
  /** Services that exited without being killed (started again). */
  unexpectedExits: number;
  /** With events: SIGKILLs of a relay, of a shipping consumer, of NATS (each started again). */
  relayKills: number;
  consumerKills: number;
  natsRestarts: number;
};

export type MayhemIntervals = {
  workerKillEveryS: number;
  /** A dev server: restarts of it; a cluster: SIGKILLs of each kind of service (frontend, history, matching), each on its own schedule. */
  temporalRestartEveryS: number;
  gatewayRestartEveryS: number;
  pgTerminateEveryS: number;
  relayKillEveryS: number;
  consumerKillEveryS: number;
  natsRestartEveryS: number;
};

export class Mayhem {
  readonly counts: MayhemCounts = {
    workerKills: 0,
    temporalRestarts: 0,
    temporalServiceKills: { frontend: 0, history: 0, matching: 0 },
    gatewayRestarts: 0,
    pgTerminations: 0,
    pgBackendsTerminated: 0,
    unexpectedExits: 0,
    relayKills: 0,
    consumerKills: 0,
    natsRestarts: 0,
  };
  readonly #stopped = new AbortController();
  readonly #loops: Array<Promise<void>> = [];
  readonly #revivals = new Set<Promise<void>>();
  /** Aborted by close(): no service is started again. */
  readonly #closing = new AbortController();
  /** A fault or revival that failed for good (a service that would not start again). */
  readonly failures: string[] = [];

  constructor(
    private readonly target: {
      pool: Pool;
      database: string;
      /** The dev server (one process) or the cluster's service processes by kind. */
      temporal: SupervisedChild | Record<KilledTemporalService, SupervisedChild[]>;
      gateway: SupervisedChild;
      workers: SupervisedChild[];
      events?: ChaosEvents | undefined;
    },
    private readonly random: Random,
    private readonly log: (line: string) => void,
  ) {}

  start(intervals: MayhemIntervals): void {
    const { temporal, gateway, workers, events } = this.target;
    this.#killOneOf(intervals.workerKillEveryS, 'worker kill', workers, 'workerKills');
    if (events) {
      this.#killOneOf(intervals.relayKillEveryS, 'relay kill', events.relays, 'relayKills');
      this.#killOneOf(intervals.consumerKillEveryS, 'consumer kill', events.consumers, 'consumerKills');
      this.#killOneOf(intervals.natsRestartEveryS, 'nats restart', [events.nats], 'natsRestarts');
    }
    if ('spec' in temporal) {
      this.#every(intervals.temporalRestartEveryS, 'temporal restart', async () => {
        this.counts.temporalRestarts += 1;
        await this.#restart(temporal);
      });
    } else {
      for (const kind of KILLED_TEMPORAL_SERVICES) {
        this.#every(intervals.temporalRestartEveryS, `temporal ${kind} kill`, async () => {
          const idle = temporal[kind].filter((c) => c.running && !c.busy);
          const victim = idle[this.random.int(0, idle.length - 1)];
          if (!victim) return;
          this.counts.temporalServiceKills[kind] += 1;
          await this.#restart(victim);
        });
      }
    }
    this.#every(intervals.gatewayRestartEveryS, 'gateway restart', async () => {
      this.counts.gatewayRestarts += 1;
      await this.#restart(gateway);
    });
    this.#every(intervals.pgTerminateEveryS, 'pg_terminate_backend', () => this.#terminateBackends());
  }

  /** Called for a service that exited by itself: start it again (also while draining, until close()). */
  revive(child: SupervisedChild): void {
    this.counts.unexpectedExits += 1;
    if (this.#closing.signal.aborted) return;
    this.log(`${child.spec.name} exited by itself; starting it again`);
    const revival = child
      .serially(async () => {
        if (!child.running) await child.startUntilUp(this.#closing.signal);
      })
      .catch((err: unknown) => void this.failures.push(`${child.spec.name} would not start again: ${messageOf(err)}`));
    this.#revivals.add(revival);
    void revival.finally(() => this.#revivals.delete(revival));
  }

  /** Stops scheduling faults and waits for the one under way (and any revival) to finish. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await Promise.all(this.#loops);
    await Promise.all([...this.#revivals]);
  }

  /** The run is shutting down: a service that exits now stays down. Waits for revivals under way. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#stopped.abort();
    await Promise.all([...this.#revivals]);
  }

  #every(meanS: number, what: string, fault: () => Promise<void>): void {
    if (meanS <= 0) return;
    const loop = async (): Promise<void> => {
      while (!this.#stopped.signal.aborted) {
        const waitMs = meanS * 1000 * (0.5 + this.random.next());
        const woke = await sleep(waitMs, this.#stopped.signal);
        if (!woke) return;
        try {
          await fault();
        } catch (err) {
          this.failures.push(`${what}: ${messageOf(err)}`);
          this.log(`${what} failed: ${messageOf(err)}`);
        }
      }
    };
    this.#loops.push(loop());
  }

  /** On its schedule, SIGKILLs one of `children` not already being restarted, and starts it again. */
  #killOneOf(meanS: number, what: string, children: SupervisedChild[], counter: 'workerKills' | 'relayKills' | 'consumerKills' | 'natsRestarts'): void {
    this.#every(meanS, what, async () => {
      const idle = children.filter((c) => c.running && !c.busy);
      const victim = idle[this.random.int(0, idle.length - 1)];
      if (!victim) return;
      this.counts[counter] += 1;
      await this.#restart(victim);
    });
  }

  /** SIGKILL, then start again (retrying while a service it needs is itself down). */
  #restart(child: SupervisedChild): Promise<void> {
    return child.serially(async () => {
      await child.kill('SIGKILL');
      await child.startUntilUp(this.#closing.signal);
    });
  }

  async #terminateBackends(): Promise<void> {
    const { rows } = await this.target.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND application_name <> $2`,
      [this.target.database, HARNESS_APPLICATION_NAME],
    );
    // About half of the services' connections, at least one: in-flight transactions die mid-way.
    const victims = this.random.shuffle(rows.map((r) => r.pid)).slice(0, Math.max(1, Math.ceil(rows.length / 2)));
    if (victims.length === 0) return;
    const { rows: killed } = await this.target.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid', [victims]);
    this.counts.pgTerminations += 1;
    this.counts.pgBackendsTerminated += killed.filter((k) => k.ok).length;
  }
}

/** Resolves true after `ms`, or false at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
