-- Up Migration
-- When an order's saga first went to the operator (COMPENSATION_STUCK). The status moves on once the
-- operator has decided; this stays, so "orders that needed an operator" is countable afterwards
-- (the chaos report's sentToOperator, and an operator's own review).
ALTER TABLE orders ADD COLUMN first_stuck_at timestamptz;

UPDATE orders SET first_stuck_at = updated_at WHERE status = 'COMPENSATION_STUCK';

-- Down Migration
ALTER TABLE orders DROP COLUMN first_stuck_at;
