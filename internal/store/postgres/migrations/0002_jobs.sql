-- Jobs: long work, queued, leased to one worker at a time, and kept once
-- done. validations and error are JSON (error NULL when none); spec and
-- result are the JSON documents given, kept byte for byte as TEXT rather
-- than JSONB (NULL when none). Ids sort by byte (COLLATE "C"), as in SQLite.
-- A job's lease_owner is '' and its lease_expires NULL while no worker
-- holds it.
CREATE TABLE jobs (
	id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	kind             TEXT NOT NULL,
	dataset          TEXT COLLATE "C" NOT NULL,
	state            TEXT NOT NULL,
	phase            TEXT NOT NULL DEFAULT '',
	bytes_read       BIGINT NOT NULL DEFAULT 0,
	bytes_total      BIGINT NOT NULL DEFAULT 0,
	rows_read        BIGINT NOT NULL DEFAULT 0,
	rows_written     BIGINT NOT NULL DEFAULT 0,
	rows_rejected    BIGINT NOT NULL DEFAULT 0,
	snapshot_id      BIGINT NOT NULL DEFAULT 0,
	validations      TEXT NOT NULL DEFAULT 'null',
	error            TEXT,
	spec             TEXT,
	result           TEXT,
	request_id       TEXT NOT NULL,
	principal        TEXT NOT NULL,
	cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
	attempt          INTEGER NOT NULL DEFAULT 0,
	lease_owner      TEXT NOT NULL DEFAULT '',
	lease_expires    TIMESTAMPTZ,
	create_time      TIMESTAMPTZ NOT NULL,
	start_time       TIMESTAMPTZ,
	end_time         TIMESTAMPTZ,
	update_time      TIMESTAMPTZ NOT NULL
);

-- One job per kind and request id: a retried request finds the first one.
CREATE UNIQUE INDEX jobs_request ON jobs (kind, request_id) WHERE request_id <> '';
-- Listings, newest first, whole or by dataset or state.
CREATE INDEX jobs_create ON jobs (create_time, id);
CREATE INDEX jobs_dataset_create ON jobs (dataset, create_time, id);
CREATE INDEX jobs_state_create ON jobs (state, create_time, id);
-- Claims: the jobs that may wait for a worker, oldest first.
CREATE INDEX jobs_active ON jobs (create_time, id) WHERE state IN ('QUEUED', 'RUNNING');
