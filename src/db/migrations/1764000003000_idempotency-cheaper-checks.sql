-- Up Migration
-- Moved to the library's own migration set (packages/idempotent-sagas/src/store/migrations, table
-- idempotent_sagas_migrations), which runs first. This name stays so databases migrated before
-- the move keep their history in order.
SELECT 1;

-- Down Migration
SELECT 1;
