-- (a) the bare transaction, pipelined into one message: the server-side floor of bench:store (a).
\set k random(1, 1000000000)
\startpipeline
BEGIN;
INSERT INTO bench_effects (tag, amount) VALUES ('first-' || :k, 1) RETURNING id;
COMMIT;
\endpipeline
