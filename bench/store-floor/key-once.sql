-- The least any key record can cost: the key inserted once, already completed, with the effect, in one message (no in-progress row, no update).
\set k random(1, 1000000000)
\startpipeline
BEGIN;
INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, result, attempts, expires_at) VALUES ('bench', 'first-' || :client_id || '-' || :k, 'ab8d2a7e58c2f1a8f4e7c0a2f1b2c3d4e5f60718293a4b5c6d7e8f9012345678', 'completed', '{"amount":1,"effectId":"12345"}'::jsonb, 1, now() + make_interval(secs => 86400)) ON CONFLICT (scope, key) DO UPDATE SET status = 'in_progress' WHERE k.expires_at <= now();
INSERT INTO bench_effects (tag, amount) VALUES ('first-' || :k, 1) RETURNING id;
COMMIT;
\endpipeline
