// Fault plans: magic tokens are deterministic per attempt; random faults are reproducible from the seed.
import { FaultInjector, faultConfigSchema } from '../../apps/gateway/faults';
import { parseMagicToken } from '../../apps/gateway/magic-tokens';

describe('magic tokens', () => {
  test('parse', () => {
    expect(parseMagicToken('tok_visa')).toBeUndefined();
    expect(parseMagicToken('tok_decline')).toEqual({ kind: 'decline', code: 'card_declined' });
    expect(parseMagicToken('tok_decline_insufficient_funds')).toEqual({ kind: 'decline', code: 'insufficient_funds' });
    expect(parseMagicToken('tok_fail_5xx_3')).toEqual({ kind: 'fail_5xx', times: 3 });
    expect(parseMagicToken('tok_apply_timeout')).toEqual({ kind: 'apply_timeout', times: 1 });
    expect(parseMagicToken('tok_apply_timeout_2')).toEqual({ kind: 'apply_timeout', times: 2 });
    expect(parseMagicToken('tok_apply_drop')).toEqual({ kind: 'apply_drop', times: 1 });
    expect(parseMagicToken('tok_pending')).toEqual({ kind: 'pending' });
    for (const ordinary of ['tok_fail_5xx_0', 'tok_fail_5xx_x', 'tok_apply_drop_', 'tok_pending_1', 'TOK_DECLINE']) {
      expect(parseMagicToken(ordinary)).toBeUndefined();
    }
  });

  test('counted tokens act on attempts 1..N only, and never draw from the random stream', () => {
    const faults = new FaultInjector({ serverErrorRate: 1, declineRate: 1, seed: 5 });
    const plans = [1, 2, 3].map((attempt) => faults.planCharge('tok_fail_5xx_2', attempt));
    expect(plans.map((p) => p.serverError)).toEqual([true, true, false]);
    expect(plans.every((p) => p.outcome.status === 'succeeded')).toBe(true);
    expect([1, 2].map((a) => faults.planCharge('tok_apply_timeout_1', a).after)).toEqual([{ kind: 'hang', ms: 30_000 }, { kind: 'answer' }]);
    expect([1, 2].map((a) => faults.planCharge('tok_apply_drop', a).after)).toEqual([{ kind: 'drop' }, { kind: 'answer' }]);
    expect(faults.planCharge('tok_pending', 1).outcome).toEqual({ status: 'pending' });
    expect(faults.planCharge('tok_decline', 9).outcome).toEqual({ status: 'declined', declineCode: 'card_declined' });
  });
});

describe('random faults', () => {
  const sequence = (faults: FaultInjector): string[] =>
    Array.from({ length: 200 }, () => {
      const p = faults.planCharge('tok_visa', 1);
      return `${p.serverError}/${p.outcome.status}/${p.after.kind}`;
    });
  const config = { declineRate: 0.2, serverErrorRate: 0.1, pendingRate: 0.1, applyThenTimeoutRate: 0.1, applyThenDropRate: 0.1 };

  test('the same seed gives the same plans; another seed, others', () => {
    const a = sequence(new FaultInjector({ ...config, seed: 123 }));
    expect(sequence(new FaultInjector({ ...config, seed: 123 }))).toEqual(a);
    expect(sequence(new FaultInjector({ ...config, seed: 124 }))).not.toEqual(a);
    const replaced = new FaultInjector({ seed: 1 });
    replaced.replace({ ...config, seed: 123 });
    expect(sequence(replaced)).toEqual(a);
  });

  test('rates are roughly honoured, and zero rates never fire', () => {
    const plans = sequence(new FaultInjector({ ...config, seed: 9 }));
    const share = (re: RegExp): number => plans.filter((p) => re.test(p)).length / plans.length;
    expect(share(/^true\//)).toBeGreaterThan(0.03);
    expect(share(/\/declined\//)).toBeGreaterThan(0.1);
    expect(sequence(new FaultInjector({ seed: 9 })).every((p) => p === 'false/succeeded/answer')).toBe(true);
  });

  test('the schema refuses bad values and unknown fields, and fills defaults', () => {
    for (const bad of [{ declineRate: 1.5 }, { serverErrorRate: -0.1 }, { latencyMs: 1.5 }, { seed: -1 }, { typo: 1 }]) {
      expect(faultConfigSchema.safeParse(bad).success).toBe(false);
    }
    expect(faultConfigSchema.parse({ seed: 3 })).toEqual({
      declineRate: 0,
      serverErrorRate: 0,
      refundServerErrorRate: 0,
      lookupServerErrorRate: 0,
      ignoreIdempotencyKeys: false,
      latencyMs: 0,
      applyThenTimeoutRate: 0,
      applyThenDropRate: 0,
      pendingRate: 0,
      hangMs: 30_000,
      seed: 3,
    });
  });
});

describe('refund faults', () => {
  test('tok_refund_fail_<N> charges normally and fails refund attempts 1..N', () => {
    const faults = new FaultInjector({ seed: 1 });
    expect(faults.planCharge('tok_refund_fail_2', 1)).toMatchObject({ serverError: false, outcome: { status: 'succeeded' }, after: { kind: 'answer' } });
    expect([1, 2, 3].map((attempt) => faults.refundAttemptFails('tok_refund_fail_2', attempt))).toEqual([true, true, false]);
    expect(faults.refundAttemptFails('tok_visa', 1)).toBe(false);
  });

  test('refundServerErrorRate 1 fails every refund and no charge', () => {
    const faults = new FaultInjector({ seed: 1, refundServerErrorRate: 1 });
    expect(faults.refundServerError()).toBe(true);
    expect(faults.planCharge('tok_visa', 1).serverError).toBe(false);
  });
});

describe('look-up faults', () => {
  test('lookupServerErrorRate 1 fails every look-up by key and no charge; unset, look-ups take no draw', () => {
    const failing = new FaultInjector({ seed: 1, lookupServerErrorRate: 1 });
    expect([failing.lookupServerError(), failing.lookupServerError()]).toEqual([true, true]);
    expect(failing.planCharge('tok_visa', 1).serverError).toBe(false);
    // Without the rate a look-up draws nothing: the charges' fault sequence for a seed is unchanged.
    const a = new FaultInjector({ seed: 7, declineRate: 0.5 });
    const b = new FaultInjector({ seed: 7, declineRate: 0.5 });
    const plans = (f: FaultInjector) => [1, 2, 3, 4, 5, 6].map((n) => f.planCharge('tok_visa', n).outcome.status);
    b.lookupServerError();
    b.lookupServerError();
    expect(plans(b)).toEqual(plans(a));
  });
});
