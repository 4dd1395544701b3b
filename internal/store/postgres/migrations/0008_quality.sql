-- Quality suites (canonical DQDL) and every validation result.
CREATE TABLE quality_suites (
	name        TEXT NOT NULL PRIMARY KEY,
	dqdl        TEXT NOT NULL,
	description TEXT NOT NULL,
	etag        TEXT NOT NULL,
	create_time TIMESTAMPTZ NOT NULL,
	update_time TIMESTAMPTZ NOT NULL
);

CREATE TABLE validations (
	id             TEXT NOT NULL PRIMARY KEY,
	suite          TEXT NOT NULL,
	target         TEXT NOT NULL,
	dataset        TEXT NOT NULL,
	job_id         TEXT NOT NULL,
	outcome        TEXT NOT NULL,
	rows_evaluated BIGINT NOT NULL,
	rule_results   TEXT NOT NULL,
	start_time     TIMESTAMPTZ NOT NULL,
	end_time       TIMESTAMPTZ NOT NULL
);
CREATE INDEX validations_start ON validations (start_time, id);
CREATE INDEX validations_dataset ON validations (dataset, start_time, id);
CREATE INDEX validations_suite ON validations (suite, start_time, id);
