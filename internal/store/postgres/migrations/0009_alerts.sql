-- The alerts sent about failed validations: one delivery per validation and
-- sink, updated as attempts are made; DEAD_LETTER rows keep the payload of
-- the alerts given up on.
CREATE TABLE alert_deliveries (
	id            TEXT NOT NULL PRIMARY KEY,
	validation_id TEXT NOT NULL,
	sink          TEXT NOT NULL,
	state         TEXT NOT NULL,
	attempts      INTEGER NOT NULL,
	last_error    TEXT NOT NULL,
	payload       TEXT NOT NULL,
	create_time   TIMESTAMPTZ NOT NULL,
	update_time   TIMESTAMPTZ NOT NULL,
	UNIQUE (validation_id, sink)
);
CREATE INDEX alert_deliveries_state ON alert_deliveries (state, update_time, id);
