-- The audit trail: append-only, each event hashing the one before it
-- (see internal/audit). The sequence orders the chain; concurrent appends
-- that pick the same sequence collide on the primary key and retry.
CREATE TABLE audit_events (
	sequence       BIGINT NOT NULL PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	time           TEXT NOT NULL,
	principal      TEXT NOT NULL,
	groups_json    TEXT NOT NULL,
	method         TEXT NOT NULL,
	resource       TEXT NOT NULL,
	request_digest TEXT NOT NULL,
	outcome        TEXT NOT NULL,
	previous_hash  TEXT NOT NULL,
	hash           TEXT NOT NULL
);
CREATE INDEX audit_events_principal ON audit_events (principal, sequence);
CREATE INDEX audit_events_resource ON audit_events (resource, sequence);

-- Append-only: the server never changes or removes an event.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
