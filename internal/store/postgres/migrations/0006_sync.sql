-- Lake Formation sync plans: actions and desired are JSON. apply_time is
-- NULL until the plan is applied.
CREATE TABLE sync_plans (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	desired_fp  TEXT NOT NULL,
	applied_fp  TEXT NOT NULL,
	actions     TEXT NOT NULL,
	desired     TEXT NOT NULL,
	create_time TIMESTAMPTZ NOT NULL,
	apply_time  TIMESTAMPTZ
);

-- The last applied state: one row, fingerprint '' until a plan is applied.
CREATE TABLE sync_state (
	id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	fingerprint TEXT NOT NULL,
	state       TEXT NOT NULL,
	plan_id     TEXT NOT NULL,
	apply_time  TIMESTAMPTZ
);

INSERT INTO sync_state (id, fingerprint, state, plan_id, apply_time) VALUES (1, '', '', '', NULL);
