// Wallet activities for the transfer saga: debit one wallet, credit another, and their compensations.
// Each forward step is a local step; each compensation is compensateLocal, which
// undoes an applied step once (writing a reversal ledger row) or tombstones a step that never applied.
// The transfer's outcome is a local step too: its record and its event, in one transaction.
import type { PoolClient } from 'pg';
import { z } from 'zod';
import { BusinessFailure, ownSagaId, type StepKinds } from 'idempotent-sagas/activity';
import { appendEvent } from '../events/outbox';

export const WalletFailure = {
  InsufficientFunds: 'INSUFFICIENT_FUNDS',
  UnknownWallet: 'UNKNOWN_WALLET',
} as const;

const Id = z.string().min(1).max(100);
const MoveInput = z.object({
  key: z.string().min(1).max(255),
  transferId: Id,
  walletId: Id,
  amountCents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
const ReverseInput = z.object({ forwardKey: z.string().min(1).max(255), transferId: Id, walletId: Id });
export type WalletReverseInput = z.infer<typeof ReverseInput>;

const OutcomeInput = z.object({
  key: z.string().min(1).max(255),
  transferId: Id,
  from: Id,
  to: Id,
  amountCents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  outcome: z.enum(['COMPLETED', 'COMPENSATED']),
  reason: z.string().max(1000).optional(),
});

export type WalletMove = { transferId: string; walletId: string; amountCents: number };
type LedgerKind = 'debit' | 'credit' | 'debit-reversal' | 'credit-reversal';

/** Adds `delta` to the balance unless that takes it below zero; false if it would (or there is no such wallet). */
async function adjustBalance(client: PoolClient, walletId: string, delta: number): Promise<boolean> {
  const res = await client.query(`UPDATE wallets SET balance_cents = balance_cents + $2 WHERE id = $1 AND balance_cents + $2 >= 0`, [walletId, delta]);
  return res.rowCount === 1;
}

async function balanceOf(client: PoolClient, walletId: string): Promise<number | undefined> {
  const res = await client.query<{ balance_cents: string }>(`SELECT balance_cents FROM wallets WHERE id = $1`, [walletId]);
  return res.rows[0] ? Number(res.rows[0].balance_cents) : undefined;
}

async function insertLedger(client: PoolClient, transferId: string, walletId: string, amountCents: number, kind: LedgerKind): Promise<void> {
  await client.query(`INSERT INTO ledger_entries (transfer_id, wallet_id, amount_cents, kind) VALUES ($1, $2, $3, $4)`, [
    transferId,
    walletId,
    amountCents,
    kind,
  ]);
}

function unknownWallet(walletId: string): BusinessFailure {
  return new BusinessFailure(WalletFailure.UnknownWallet, `unknown wallet ${walletId}`, { walletId });
}

/**
 * Undo by natural key, for a compensation that finds no record: the ledger row (transfer, wallet,
 * kind) says whether the forward move applied; its reversal row is written once (the ledger's unique key).
 */
async function reverseByLedger(client: PoolClient, transferId: string, walletId: string, kind: 'debit' | 'credit'): Promise<boolean> {
  const { rows } = await client.query<{ amount_cents: string }>(
    `SELECT amount_cents FROM ledger_entries l WHERE transfer_id = $1 AND wallet_id = $2 AND kind = $3
        AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.transfer_id = l.transfer_id AND r.wallet_id = l.wallet_id AND r.kind = $4)
      FOR UPDATE`,
    [transferId, walletId, kind, `${kind}-reversal`],
  );
  const applied = rows[0];
  if (!applied) return false;
  const amount = -Number(applied.amount_cents); // a debit was negative: its reversal gives it back
  if (!(await adjustBalance(client, walletId, amount))) {
    throw new Error(`cannot reverse the ${kind} of ${-amount} on wallet ${walletId}: its balance is lower now`);
  }
  await insertLedger(client, transferId, walletId, amount, `${kind}-reversal`);
  return true;
}

/** The reversal applies to the wallet and transfer the forward step moved; anything else is a caller bug. */
function checkSameMove(input: WalletReverseInput, forward: WalletMove): void {
  if (forward.walletId !== input.walletId || forward.transferId !== input.transferId) {
    throw new Error(`compensation for ${input.transferId}/${input.walletId} does not match the step it undoes (${forward.transferId}/${forward.walletId})`);
  }
}

export function createWalletActivities(steps: StepKinds) {
  return {
    /** Takes the amount out of the wallet and records a debit; INSUFFICIENT_FUNDS is a business failure. */
    debitWallet: steps.local({
      input: MoveInput,
      effect: async (client, input): Promise<WalletMove> => {
        if (!(await adjustBalance(client, input.walletId, -input.amountCents))) {
          const balance = await balanceOf(client, input.walletId);
          if (balance === undefined) throw unknownWallet(input.walletId);
          throw new BusinessFailure(WalletFailure.InsufficientFunds, `${input.walletId}: ${input.amountCents} requested, ${balance} available`, {
            walletId: input.walletId,
            requested: input.amountCents,
            available: balance,
          });
        }
        await insertLedger(client, input.transferId, input.walletId, -input.amountCents, 'debit');
        return { transferId: input.transferId, walletId: input.walletId, amountCents: input.amountCents };
      },
    }),

    /** Adds the amount to the wallet and records a credit; UNKNOWN_WALLET is a business failure. */
    creditWallet: steps.local({
      input: MoveInput,
      effect: async (client, input): Promise<WalletMove> => {
        if (!(await adjustBalance(client, input.walletId, input.amountCents))) throw unknownWallet(input.walletId);
        await insertLedger(client, input.transferId, input.walletId, input.amountCents, 'credit');
        return { transferId: input.transferId, walletId: input.walletId, amountCents: input.amountCents };
      },
    }),

    /** Compensation: gives a debited amount back, or tombstones the key if the debit never applied. */
    reverseDebit: steps.compensateLocal({
      input: ReverseInput,
      undoByNaturalKey: (client, input) => reverseByLedger(client, input.transferId, input.walletId, 'debit'),
      undo: async (client, debit: WalletMove, input) => {
        checkSameMove(input, debit);
        if (!(await adjustBalance(client, debit.walletId, debit.amountCents))) throw new Error(`wallet ${debit.walletId} vanished`);
        await insertLedger(client, debit.transferId, debit.walletId, debit.amountCents, 'debit-reversal');
      },
    }),

    /**
     * Compensation: takes a credited amount back, or tombstones the key if the credit never applied.
     * If the wallet has spent it meanwhile the reversal fails (retryably): the saga reports
     * COMPENSATION_STUCK and an operator decides, rather than a balance going negative.
     */
    reverseCredit: steps.compensateLocal({
      input: ReverseInput,
      undoByNaturalKey: (client, input) => reverseByLedger(client, input.transferId, input.walletId, 'credit'),
      undo: async (client, credit: WalletMove, input) => {
        checkSameMove(input, credit);
        if (!(await adjustBalance(client, credit.walletId, -credit.amountCents))) {
          throw new Error(`cannot reverse the credit of ${credit.amountCents} to wallet ${credit.walletId}: its balance is lower now`);
        }
        await insertLedger(client, credit.transferId, credit.walletId, -credit.amountCents, 'credit-reversal');
      },
    }),

    /**
     * The transfer's terminal transition: a transfer has no row of its own, so its outcome is this step's
     * record, and its event goes to the outbox in the same transaction (once: the step is keyed).
     */
    recordTransferOutcome: steps.local({
      input: OutcomeInput,
      effect: async (client, input): Promise<null> => {
        const { transferId, from, to, amountCents } = input;
        const workflowId = ownSagaId();
        if (input.outcome === 'COMPLETED') {
          await appendEvent(client, { workflowId, type: 'transfer.completed', aggregateId: transferId, payload: { transferId, from, to, amountCents } });
        } else {
          const payload = { transferId, from, to, amountCents, reason: input.reason ?? '' };
          await appendEvent(client, { workflowId, type: 'transfer.compensated', aggregateId: transferId, payload });
        }
        return null;
      },
    }),
  };
}
