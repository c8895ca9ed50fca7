// Webhook signatures: what the receiving API relies on to refuse forged or replayed-late events.
import { createHmac } from 'node:crypto';
import { signPayload, verifySignature } from '../../apps/gateway/webhooks';

const secret = 'whsec_unit_test_0123456789';
const body = '{"id":"evt_1","type":"charge.succeeded","data":{"charge":{"id":"ch_1"}}}';
const t = 1_764_000_000;

test('the header is t=<seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>', () => {
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  expect(signPayload(secret, t, body)).toBe(`t=${t},v1=${expected}`);
});

test('a fresh, correct signature verifies', () => {
  expect(verifySignature(secret, signPayload(secret, t, body), body, 300, t + 10)).toEqual({ ok: true, timestamp: t });
});

test('a wrong secret, a changed body or a changed timestamp is a bad signature', () => {
  const header = signPayload(secret, t, body);
  expect(verifySignature('whsec_someone_else_0123456', header, body, 300, t)).toEqual({ ok: false, reason: 'bad_signature' });
  expect(verifySignature(secret, header, body.replace('ch_1', 'ch_2'), 300, t)).toEqual({ ok: false, reason: 'bad_signature' });
  expect(verifySignature(secret, header.replace(`t=${t}`, `t=${t + 1}`), body, 300, t)).toEqual({ ok: false, reason: 'bad_signature' });
});

test('a correct signature outside the tolerance is stale, in the past or the future', () => {
  const header = signPayload(secret, t, body);
  expect(verifySignature(secret, header, body, 300, t + 301)).toEqual({ ok: false, reason: 'stale' });
  expect(verifySignature(secret, header, body, 300, t - 301)).toEqual({ ok: false, reason: 'stale' });
  expect(verifySignature(secret, header, body, 300, t + 300)).toMatchObject({ ok: true });
});

test('a stale timestamp with a bad signature is reported as a bad signature (401 before 400)', () => {
  expect(verifySignature('whsec_someone_else_0123456', signPayload(secret, t, body), body, 300, t + 10_000)).toEqual({
    ok: false,
    reason: 'bad_signature',
  });
});

test('missing or malformed headers are malformed', () => {
  for (const header of [undefined, '', 'garbage', `t=${t}`, 'v1=abc', `t=abc,v1=${'0'.repeat(64)}`, `t=${t},v1=xyz`]) {
    expect(verifySignature(secret, header, body, 300, t)).toEqual({ ok: false, reason: 'malformed' });
  }
});

test('any of several v1 signatures may match (secret rotation)', () => {
  const good = signPayload(secret, t, body).split(',')[1]!;
  const header = `t=${t},v1=${'a'.repeat(64)},${good}`;
  expect(verifySignature(secret, header, body, 300, t)).toMatchObject({ ok: true });
});
