// Fault injection: zod-validated rates drawn from a seeded generator, plus the magic tokens.
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { mulberry32 } from '../../src/random';
import { parseMagicToken } from './magic-tokens';

const seededNext = (seed: number): (() => number) => {
  const random = mulberry32(seed);
  return () => random.next();
};

const rate = z.number().min(0).max(1);

export const faultConfigSchema = z.strictObject({
  /** Share of charges declined (`card_declined`). */
  declineRate: rate.default(0),
  /** Share of requests answered 503 before anything is applied. */
  serverErrorRate: rate.default(0),
  /** Share of refunds answered 503 before anything is applied (compensations failing). */
  refundServerErrorRate: rate.default(0),
  /** Share of look-ups by key (GET /charges/by-key) answered 503 (reconciliation failing). */
  lookupServerErrorRate: rate.default(0),
  /**
   * A provider that honours no Idempotency-Key: every POST /charges is applied anew (the key is kept
   * as a reference: look-up by key still works, and a refund by key still voids the reference).
   */
  ignoreIdempotencyKeys: z.boolean().default(false),
  /** Delay added to every POST /charges and POST /refunds. */
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  /** Share of charges applied and committed whose answer is then held for `hangMs` (or until the client leaves). */
  applyThenTimeoutRate: rate.default(0),
  /** Share of charges applied and committed whose connection is then destroyed without an answer. */
  applyThenDropRate: rate.default(0),
  /** Share of charges answered 202 pending (confirmed later by webhook). */
  pendingRate: rate.default(0),
  hangMs: z.number().int().min(0).max(600_000).default(30_000),
  /** Seeds the generator: the same seed and the same order of requests give the same faults. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(() => randomInt(2 ** 32 - 1)),
});

export type FaultConfig = z.output<typeof faultConfigSchema>;
export type FaultConfigInput = z.input<typeof faultConfigSchema>;

export type ChargeOutcome = { status: 'succeeded' } | { status: 'declined'; declineCode: string } | { status: 'pending' };

export type ChargePlan = {
  /** Answer 503 and apply nothing. */
  serverError: boolean;
  /** The outcome stored if this attempt is the one that creates the charge. */
  outcome: ChargeOutcome;
  /** What happens to the answer once the charge is committed (fresh or replayed). */
  after: { kind: 'answer' } | { kind: 'hang'; ms: number } | { kind: 'drop' };
};

export class FaultInjector {
  #config: FaultConfig;
  #random: () => number;

  constructor(input: FaultConfigInput = {}) {
    this.#config = faultConfigSchema.parse(input);
    this.#random = seededNext(this.#config.seed);
  }

  get config(): FaultConfig {
    return { ...this.#config };
  }

  /** Replaces the whole configuration (omitted fields take their defaults) and reseeds. */
  replace(input: FaultConfigInput): FaultConfig {
    this.#config = faultConfigSchema.parse(input);
    this.#random = seededNext(this.#config.seed);
    return this.config;
  }

  /** Whether POST /charges applies every request, ignoring its Idempotency-Key. */
  get ignoresIdempotencyKeys(): boolean {
    return this.#config.ignoreIdempotencyKeys;
  }

  /** Added delay for every payment request. */
  get latencyMs(): number {
    return this.#config.latencyMs;
  }

  /**
   * The plan for one POST /charges. Magic tokens are deterministic and skip the random draws;
   * any other token draws exactly five numbers, so request i always sees draws 5i..5i+4.
   */
  planCharge(paymentToken: string, attempt: number): ChargePlan {
    const magic = parseMagicToken(paymentToken);
    const answer = { kind: 'answer' } as const;
    const hang = { kind: 'hang', ms: this.#config.hangMs } as const;
    if (magic) {
      switch (magic.kind) {
        case 'decline':
          return { serverError: false, outcome: { status: 'declined', declineCode: magic.code }, after: answer };
        case 'pending':
          return { serverError: false, outcome: { status: 'pending' }, after: answer };
        case 'fail_5xx':
          return { serverError: attempt <= magic.times, outcome: { status: 'succeeded' }, after: answer };
        case 'apply_timeout':
          return { serverError: false, outcome: { status: 'succeeded' }, after: attempt <= magic.times ? hang : answer };
        case 'apply_drop':
          return { serverError: false, outcome: { status: 'succeeded' }, after: attempt <= magic.times ? { kind: 'drop' } : answer };
        case 'refund_fail':
          return { serverError: false, outcome: { status: 'succeeded' }, after: answer };
      }
    }
    const c = this.#config;
    const [serverError, decline, pending, timeout, drop] = [c.serverErrorRate, c.declineRate, c.pendingRate, c.applyThenTimeoutRate, c.applyThenDropRate].map(
      (r) => this.#random() < r,
    );
    const outcome: ChargeOutcome = decline ? { status: 'declined', declineCode: 'card_declined' } : pending ? { status: 'pending' } : { status: 'succeeded' };
    return { serverError: serverError === true, outcome, after: timeout ? hang : drop ? { kind: 'drop' } : answer };
  }

  /** Whether one POST /refunds is answered 503 before anything is applied (a draw from the same stream). */
  refundServerError(): boolean {
    const [serverError, refundError] = [this.#config.serverErrorRate, this.#config.refundServerErrorRate].map((r) => this.#random() < r);
    return serverError === true || refundError === true;
  }

  /** Whether one look-up by key is answered 503 (drawn from its own rate only when it is set, so other draws keep their order). */
  lookupServerError(): boolean {
    return this.#config.lookupServerErrorRate > 0 && this.#random() < this.#config.lookupServerErrorRate;
  }

  /** Whether refund attempt `attempt` of a charge paid with `paymentToken` is answered 503 (magic token). */
  refundAttemptFails(paymentToken: string, attempt: number): boolean {
    const magic = parseMagicToken(paymentToken);
    return magic?.kind === 'refund_fail' && attempt <= magic.times;
  }
}
