// Deterministic test tokens, like card processors' test cards: each targets one request by its token.
// The attempt number counts valid POST /charges for one idempotency key, starting at 1.

export type MagicBehaviour =
  /** Always declined with `code`. */
  | { kind: 'decline'; code: string }
  /** Attempts 1..times get 503 before anything is applied; later attempts proceed. */
  | { kind: 'fail_5xx'; times: number }
  /** Attempts 1..times apply (or replay) and commit, then hold the answer until the client gives up. */
  | { kind: 'apply_timeout'; times: number }
  /** Attempts 1..times apply (or replay) and commit, then destroy the connection without answering. */
  | { kind: 'apply_drop'; times: number }
  /** The charge answers 202 pending; a signed webhook confirms it later when one is configured. */
  | { kind: 'pending' }
  /** The charge succeeds; refund attempts 1..times of it get 503 before anything is applied. */
  | { kind: 'refund_fail'; times: number };

const COUNTED = /^tok_(fail_5xx|apply_timeout|apply_drop|refund_fail)(?:_([1-9]\d{0,3}))?$/;
const DECLINE = /^tok_decline(?:_([a-z][a-z_]{0,63}))?$/;

/** The behaviour a payment token asks for, or undefined for an ordinary token (random faults apply). */
export function parseMagicToken(token: string): MagicBehaviour | undefined {
  if (token === 'tok_pending') return { kind: 'pending' };
  const decline = DECLINE.exec(token);
  if (decline) return { kind: 'decline', code: decline[1] ?? 'card_declined' };
  const counted = COUNTED.exec(token);
  if (!counted) return undefined;
  const kind = counted[1] as 'fail_5xx' | 'apply_timeout' | 'apply_drop' | 'refund_fail';
  return { kind, times: counted[2] === undefined ? 1 : Number(counted[2]) };
}
