// The wallet transfer saga: debit the source -> credit the target, each compensable. A second user of
// the saga helper and the idempotency store, to show neither is tied to orders. Keys are
// `${workflowId}/${stepId}`, computed by the saga and passed to the activity.
import { ApplicationFailure, defineQuery, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { INJECTED_FAILURE } from './messages';
import { DEFAULT_STUCK_AFTER_ATTEMPTS, Saga, describeFailure, type SagaState } from './saga';

export type TransferInput = {
  transferId: string;
  from: string;
  to: string;
  amountCents: number;
  options?: {
    /** Demonstration fault: fails the transfer after the debit and the credit applied, before it completes. */
    failAfterDebit?: string;
    /** Activity attempts per compensation round before the saga reports COMPENSATION_STUCK. Default 10 (about 26 s of backoff). */
    stuckAfterAttempts?: number;
    /** How long a stuck saga waits for an operator before retrying by itself, in ms. Default 10 minutes. */
    stuckRetryIntervalMs?: number;
  };
};

export type TransferResult = { transferId: string; status: 'COMPLETED' | 'COMPENSATED'; reason?: string };

export type TransferSagaState = SagaState & { transferId: string };
/** The transfer's saga state; the same query name as the order saga's, its own shape. */
export const transferStateQuery = defineQuery<TransferSagaState>('sagaState');

export const TransferErrorType = { InvalidTransfer: 'INVALID_TRANSFER' } as const;

const forward = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds' },
});

export async function transferFunds(input: TransferInput): Promise<TransferResult> {
  if (input.from === input.to) {
    throw ApplicationFailure.nonRetryable(`a transfer needs two different wallets, got ${input.from} twice`, TransferErrorType.InvalidTransfer);
  }
  const { workflowId } = workflowInfo();
  const opts = input.options ?? {};
  const compensations = proxyActivities<Activities>({
    startToCloseTimeout: '20 seconds',
    retry: {
      initialInterval: '200 milliseconds',
      backoffCoefficient: 2,
      maximumInterval: '5 seconds',
      maximumAttempts: opts.stuckAfterAttempts ?? DEFAULT_STUCK_AFTER_ATTEMPTS,
    },
  });
  const saga = new Saga({ workflowId, stuckRetryIntervalMs: opts.stuckRetryIntervalMs ?? 600_000 });
  setHandler(transferStateQuery, () => ({ ...saga.state(), transferId: input.transferId }));

  const { transferId, amountCents } = input;
  try {
    await saga.step(
      'debit',
      ({ forwardKey: key }) => forward.debitWallet({ key, transferId, walletId: input.from, amountCents }),
      ({ forwardKey }) => compensations.reverseDebit({ forwardKey, transferId, walletId: input.from }),
    );
    await saga.step(
      'credit',
      ({ forwardKey: key }) => forward.creditWallet({ key, transferId, walletId: input.to, amountCents }),
      ({ forwardKey }) => compensations.reverseCredit({ forwardKey, transferId, walletId: input.to }),
    );
    if (opts.failAfterDebit) throw ApplicationFailure.nonRetryable(opts.failAfterDebit, INJECTED_FAILURE);
  } catch (err) {
    const reason = reasonOf(err);
    await saga.compensate(reason);
    if (isCancellation(err)) throw err; // workflow cancellation: end as cancelled, after compensating
    return { transferId, status: 'COMPENSATED', reason };
  }
  // Both local effects applied: nothing further to do at a pivot, so the saga just completes.
  saga.complete();
  return { transferId, status: 'COMPLETED' };
}

function reasonOf(err: unknown): string {
  if (isCancellation(err)) return 'cancelled: workflow cancellation requested';
  const { type, message } = describeFailure(err);
  return `${type}: ${message}`;
}
