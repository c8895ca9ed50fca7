-- (b) without the outcome update: what the claim insert alone adds.
\set k random(1, 1000000000)
\startpipeline
BEGIN;
INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, attempts, expires_at) VALUES ('bench', 'first-' || :client_id || '-' || :k, 'ab8d2a7e58c2f1a8f4e7c0a2f1b2c3d4e5f60718293a4b5c6d7e8f9012345678', 'in_progress', 1, now() + make_interval(secs => 86400)) ON CONFLICT (scope, key) DO UPDATE SET status = 'in_progress' WHERE k.expires_at <= now();
INSERT INTO bench_effects (tag, amount) VALUES ('first-' || :k, 1) RETURNING id;
COMMIT;
\endpipeline
