-- Outbox items that wait for others, keep their results, and name their subject (the
-- workflow engine's `after`, `result` and `subject`). Additive: existing rows get no
-- dependencies, no result and no subject. Same columns as ../sqlite/0003.

-- What the delivery is about (a finding id, or an event id when there is no finding).
ALTER TABLE outbox ADD COLUMN subject TEXT COLLATE "C";
-- Idempotency keys of the items that must be finished (delivered or dead) first: JSON array.
ALTER TABLE outbox ADD COLUMN after_keys JSONB NOT NULL DEFAULT '[]';
-- The action's result once delivered (JSON), read by dependants.
ALTER TABLE outbox ADD COLUMN result JSONB;
