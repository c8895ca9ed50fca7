// The wallet transfer saga: debit the source -> credit the target, each compensable. A second user of
// the saga helper and the idempotency store, to show neither is tied to orders. Keys are
// `${workflowId}/${stepId}`, computed by the saga and passed to the activity.
// A run resumed by continue-as-new (input.resume) skips the forward phase and goes on compensating.
import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  makeContinueAsNewFunc,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { appSagaOptions, compensationActivities, forward, sagaCloser } from '../worker/saga-plumbing';
import { INJECTED_FAILURE } from '../orders/workflows/messages';
import { SAGA_LIFETIME_PATCH, Saga, describeFailure, handleOperatorDecisions, stepKeys } from 'idempotent-sagas/workflow';
import type { Compensation, SagaLifetimeOptions, SagaSnapshot, SagaState } from 'idempotent-sagas/workflow';

export type TransferInput = {
  transferId: string;
  from: string;
  to: string;
  amountCents: number;
  options?: SagaLifetimeOptions & {
    /** Demonstration fault: fails the transfer after the debit and the credit applied, before it completes. */
    failAfterDebit?: string;
  };
  /** Set by the saga itself when it continues-as-new while compensating; never by a caller. */
  resume?: { saga: SagaSnapshot; workflowCancelled?: boolean };
};

export type TransferResult = { transferId: string; status: 'COMPLETED' | 'COMPENSATED'; reason?: string };

export type TransferSagaState = SagaState & { transferId: string };
/** The transfer's saga state; the same query name as the order saga's, its own shape. */
export const transferStateQuery = defineQuery<TransferSagaState>('sagaState');

export const TransferErrorType = { InvalidTransfer: 'INVALID_TRANSFER' } as const;

/** The patch under which a transfer records its outcome (and publishes its event) before it closes. */
export const TRANSFER_EVENTS_PATCH = 'transfer-events-v1';

export async function transferFunds(input: TransferInput): Promise<TransferResult> {
  if (input.from === input.to) {
    throw ApplicationFailure.nonRetryable(`a transfer needs two different wallets, got ${input.from} twice`, TransferErrorType.InvalidTransfer);
  }
  // Evaluated once, before any command: histories recorded without the marker replay the old sequence.
  const lifetime = patched(SAGA_LIFETIME_PATCH);
  const { workflowId } = workflowInfo();
  const opts = input.options ?? {};
  const resume = input.resume;
  if (resume && !lifetime) throw new Error('a resumed transfer saga always carries the saga-lifetime-v1 marker');
  const compensations = compensationActivities(opts.stuckAfterAttempts);
  const { transferId, amountCents } = input;
  // The compensation of each step, by step ID: used when the step runs and to resume after continue-as-new.
  const compensationFor = (stepId: string): Compensation | undefined => {
    if (stepId === 'debit') return ({ forwardKey }) => compensations.reverseDebit({ forwardKey, transferId, walletId: input.from });
    if (stepId === 'credit') return ({ forwardKey }) => compensations.reverseCredit({ forwardKey, transferId, walletId: input.to });
    return undefined;
  };
  let workflowCancelled = resume?.workflowCancelled ?? false;
  const continueAsNew = makeContinueAsNewFunc<typeof transferFunds>({ memo: workflowInfo().memo });
  const sagaOptions = appSagaOptions({
    workflowId,
    lifetime,
    options: opts,
    continueAsNew: (snapshot) => continueAsNew({ ...input, resume: { saga: snapshot, ...(workflowCancelled && { workflowCancelled }) } }),
  });
  const saga = resume ? Saga.resume(resume.saga, sagaOptions, compensationFor) : new Saga(sagaOptions);
  setHandler(transferStateQuery, () => ({ ...saga.state(), transferId }));
  handleOperatorDecisions(saga);
  const closeSaga = sagaCloser(lifetime, workflowId);
  // Histories recorded before transfers published events replay without the outcome step.
  const announce = patched(TRANSFER_EVENTS_PATCH);
  const close = async (outcome: 'COMPLETED' | 'COMPENSATED', reason?: string): Promise<void> => {
    if (announce) {
      const { forwardKey: key } = stepKeys(workflowId, 'outcome');
      const { from, to } = input;
      await CancellationScope.nonCancellable(() =>
        forward.recordTransferOutcome({ key, transferId, from, to, amountCents, outcome, ...(reason !== undefined && { reason: reason.slice(0, 1000) }) }),
      );
    }
    await closeSaga(outcome);
  };

  if (resume) {
    // The forward phase ended in an earlier run: go on compensating, newest first.
    await saga.compensate(resume.saga.reason);
    await close('COMPENSATED', resume.saga.reason);
    return { transferId, status: 'COMPENSATED', reason: resume.saga.reason };
  }

  try {
    await saga.step('debit', ({ forwardKey: key }) => forward.debitWallet({ key, transferId, walletId: input.from, amountCents }), compensationFor('debit'));
    await saga.step('credit', ({ forwardKey: key }) => forward.creditWallet({ key, transferId, walletId: input.to, amountCents }), compensationFor('credit'));
    if (opts.failAfterDebit) throw ApplicationFailure.nonRetryable(opts.failAfterDebit, INJECTED_FAILURE);
  } catch (err) {
    const reason = reasonOf(err);
    workflowCancelled = isCancellation(err);
    await saga.compensate(reason);
    await close('COMPENSATED', reason);
    if (workflowCancelled) throw err; // workflow cancellation: end as cancelled, after compensating
    return { transferId, status: 'COMPENSATED', reason };
  }
  // Both local effects applied: nothing further to do at a pivot, so the saga just completes.
  saga.complete();
  await close('COMPLETED');
  return { transferId, status: 'COMPLETED' };
}

function reasonOf(err: unknown): string {
  if (isCancellation(err)) return 'cancelled: workflow cancellation requested';
  const { type, message } = describeFailure(err);
  return `${type}: ${message}`;
}
