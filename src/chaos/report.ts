// What a chaos run shows: a progress bar on stderr while it runs, then the report and its JSON line.
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { PROJECT_ROOT } from '../config';
import type { ChaosChecks } from './checks';
import type { ChaosProgress, ChaosResult } from './run';

/** One bar per phase (chaos: orders accepted; drain: orders terminal), with the fault counts. */
export function chaosProgressBar(): { update: (p: ChaosProgress) => void; stop: () => void } {
  const bar = new SingleBar({
    stream: process.stderr,
    format:
      ' {phase} |{bar}| {value}/{total} {what} | requests {requests} | kills: worker {workerKills} · temporal {temporal} · gateway {gatewayRestarts} · pg backends {pgBackendsTerminated} | {duration_formatted}',
    barsize: 24,
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 5000,
  });
  let phase: ChaosProgress['phase'] | undefined;
  const update = (p: ChaosProgress): void => {
    const value = p.phase === 'chaos' ? p.accepted : p.terminal;
    const { frontend, history, matching } = p.counts.temporalServiceKills;
    // A dev server's restarts, or a cluster's service SIGKILLs (frontend/history/matching).
    const temporal = frontend + history + matching > 0 ? `${frontend}/${history}/${matching}` : String(p.counts.temporalRestarts);
    const payload = { phase: p.phase, what: p.phase === 'chaos' ? 'accepted' : 'terminal', requests: p.requests, ...p.counts, temporal };
    if (phase !== p.phase) {
      if (phase) bar.stop();
      phase = p.phase;
      bar.start(p.phase === 'chaos' ? p.orders : p.accepted, value, payload);
    } else {
      bar.update(value, payload);
    }
  };
  return {
    update,
    stop: () => {
      if (phase) bar.stop();
    },
  };
}

/** The run's last stdout line. */
export function reportJson(r: ChaosResult): Record<string, unknown> {
  const c: ChaosChecks = r.checks;
  return {
    orders: r.options.orders,
    accepted: c.accepted,
    requests: r.requests,
    completed: c.database.completed,
    compensated: c.database.compensated,
    stuck: c.database.stuck,
    nonTerminal: c.nonTerminal,
    doubleCharges: c.database.doubleCharges,
    doubleReservations: c.database.doubleReservations,
    workerKills: r.counts.workerKills,
    temporalRestarts: r.counts.temporalRestarts,
    temporal: r.options.temporal,
    temporalServiceKills: Object.values(r.counts.temporalServiceKills).reduce((a, b) => a + b, 0),
    temporalServiceKillsByKind: r.counts.temporalServiceKills,
    gatewayRestarts: r.counts.gatewayRestarts,
    pgBackendsTerminated: r.counts.pgBackendsTerminated,
    unexpectedExits: r.counts.unexpectedExits,
    takeovers: r.takeovers,
    ...(c.events && {
      events: true,
      eventsPublished: c.events.eventsPublished,
      eventsApplied: c.events.eventsApplied,
      eventsInStream: c.events.inStream,
      eventsMissing: c.events.eventsMissing,
      eventsAppliedTwice: c.events.eventsAppliedTwice,
      relayKills: r.counts.relayKills,
      consumerKills: r.counts.consumerKills,
      natsRestarts: r.counts.natsRestarts,
    }),
    recordsCleaned: r.cleanup.deleted,
    liveRecordsDeleted: r.cleanup.liveRecordsDeleted,
    operatorRetries: r.operatorRetries,
    ttlSeconds: r.options.ttlS ?? null,
    naturalKeys: r.options.naturalKeys,
    providerIgnoresKeys: r.options.providerIgnoresKeys,
    gatewayCharges: r.gatewayCharges,
    chargesUnconfirmed: r.chargesUnconfirmed,
    sentToOperator: r.sentToOperator,
    refundOutageSeconds: r.options.refundOutageS,
    chaosPhaseSeconds: Math.round(r.chaosPhaseMs / 100) / 10,
    drainSeconds: Math.round(r.drainMs / 100) / 10,
    seed: r.options.seed,
    runId: r.runId,
    invariantsHeld: c.invariantsHeld,
  };
}

/** The report for people, a line each. */
export function formatReport(r: ChaosResult): string[] {
  const c = r.checks;
  const runDir = path.relative(PROJECT_ROOT, r.runDir);
  const out = [
    '',
    `chaos run ${r.runId} (seed ${r.options.seed})`,
    `  orders        ${r.options.orders} planned, ${c.accepted} accepted over ${r.requests} HTTP requests (${r.duplicateCopies} duplicate copies)`,
    `  outcomes      completed ${c.database.completed} · compensated ${c.database.compensated} · awaiting an operator ${c.database.stuck} · not terminal ${c.nonTerminal}`,
    `  faults        worker SIGKILLs ${r.counts.workerKills} · ${
      r.options.temporal === 'cluster'
        ? `temporal SIGKILLs: frontend ${r.counts.temporalServiceKills.frontend}, history ${r.counts.temporalServiceKills.history}, matching ${r.counts.temporalServiceKills.matching}`
        : `temporal restarts ${r.counts.temporalRestarts}`
    } · gateway restarts ${r.counts.gatewayRestarts} · ` +
      `pg backends terminated ${r.counts.pgBackendsTerminated} in ${r.counts.pgTerminations} rounds · services that exited by themselves ${r.counts.unexpectedExits}`,
    ...(c.events
      ? [
          `  events        ${c.events.eventsPublished} published (${c.events.inStream} messages in the stream), ${c.events.eventsApplied} applied by shipping · relay SIGKILLs ${r.counts.relayKills} · consumer SIGKILLs ${r.counts.consumerKills} · NATS restarts ${r.counts.natsRestarts}`,
        ]
      : []),
    `  retention     ${r.options.ttlS !== undefined ? `step records kept ${r.options.ttlS} s after their saga closed` : 'default TTLs'} · cleanup ${r.options.cleanupEveryS > 0 ? `every ${r.options.cleanupEveryS} s: ${r.cleanup.runs} runs, ${r.cleanup.deleted} records and ${r.cleanup.extraDeleted} webhook events deleted, ${r.cleanup.liveRecordsDeleted} of an open saga` : 'off'}`,
    ...(r.options.refundOutageS > 0
      ? [
          `  outage        every refund failed for ${r.options.refundOutageS} s (put on the gateway ${r.outageApplied} time(s)); ${r.operatorRetries} operator retries of stuck sagas`,
        ]
      : []),
    `  charges       ${r.gatewayCharges} applied by the gateway${r.options.providerIgnoresKeys ? ' (which ignored Idempotency-Key; charges ran at most once)' : ''} · ${r.chargesUnconfirmed} orders compensated because their charge stayed unconfirmed · ${r.sentToOperator} sent to the operator`,
    `  witness       ${r.takeovers} step records completed at a later epoch than their first claim (interrupted work taken over)`,
    `  timing        chaos phase ${(r.chaosPhaseMs / 1000).toFixed(1)} s, drain ${(r.drainMs / 1000).toFixed(1)} s`,
    `  workflows     ${c.workflows ?? 'unknown'} on the run's task queue`,
    ...c.stuckOrders.map((o) => `  awaiting an operator: ${o.id} (workflow order-${o.id}): ${o.reason}`),
    '',
    'invariants',
    ...c.lines.map((l) => `  ${l.held ? '✓' : '✗'} ${l.label}${l.detail ? `\n      ${l.detail}` : ''}`),
    '',
    c.invariantsHeld
      ? `every invariant held (database ${r.database} ${r.options.keep ? 'kept (--keep)' : 'dropped'}; service logs in ${runDir})`
      : `INVARIANTS VIOLATED: database ${r.database} and ${runDir} kept for inspection`,
  ];
  return out;
}
