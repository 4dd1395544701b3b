-- The records of erasures (파기): the certificate, who asked and why, and
-- the erased subjects only as salted SHA-256 hashes (subject_hashes is a
-- JSON array of hex strings, salt the hex of this erasure's own salt).
CREATE TABLE erasures (
	id             TEXT NOT NULL PRIMARY KEY,
	job_id         TEXT NOT NULL UNIQUE,
	principal      TEXT NOT NULL,
	reason         TEXT NOT NULL,
	salt           TEXT NOT NULL,
	subject_hashes TEXT NOT NULL,
	certificate    TEXT NOT NULL,
	digest         TEXT NOT NULL,
	create_time    TIMESTAMPTZ NOT NULL
);
