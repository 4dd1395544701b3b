-- The governance change log, from which replicas sharing the store keep
-- their in-memory governance index current. Every write to what that index
-- holds (datasets, resource tags, group grants, tag keys) appends one change
-- per row it touches, through the triggers below, in the writing
-- transaction, so no writer can forget it.
--
-- seq comes from the one-row counter governance_version, which each change
-- increments (UPDATE ... RETURNING): writers serialise on its row lock until
-- they commit, so seqs are gap-free in commit order and a reader that sees
-- seq N has seen every seq below it. key names what changed: the dataset id,
-- the resource (database, database.table or database.table.column), the
-- grant id or the tag key. Only the newest keep_changes rows are kept: each
-- change deletes the rows that fell out of that window, so a reader that
-- finds the seqs it needs gone reloads everything instead.
CREATE TABLE governance_version (
	id           INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	v            BIGINT NOT NULL,
	keep_changes BIGINT NOT NULL
);

INSERT INTO governance_version (id, v, keep_changes) VALUES (1, 0, 100000);

CREATE TABLE governance_changes (
	seq  BIGINT NOT NULL PRIMARY KEY,
	kind TEXT COLLATE "C" NOT NULL,
	key  TEXT COLLATE "C" NOT NULL,
	at   TIMESTAMPTZ NOT NULL
);

-- governance_lock runs before every statement on a governed table, so that a
-- transaction holds the counter's lock before it locks any governed row:
-- without it, two transactions could each lock a row the other needs next
-- while one waits for the counter, and deadlock.
CREATE FUNCTION governance_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM governance_version WHERE id = 1 FOR UPDATE;
	RETURN NULL;
END
$$;

-- governance_append appends one change.
CREATE FUNCTION governance_append(change_kind TEXT, change_key TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n    BIGINT;
	keep BIGINT;
BEGIN
	UPDATE governance_version SET v = v + 1 WHERE id = 1 RETURNING v, keep_changes INTO n, keep;
	INSERT INTO governance_changes (seq, kind, key, at) VALUES (n, change_kind, change_key, now());
	DELETE FROM governance_changes WHERE seq <= n - keep;
END
$$;

-- governance_key is the key of a governed row of kind.
CREATE FUNCTION governance_key(kind TEXT, r JSONB) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE kind
		WHEN 'tagkey' THEN r ->> 'key'
		WHEN 'tags' THEN (r ->> 'db')
			|| CASE WHEN r ->> 'tbl' = '' THEN '' ELSE '.' || (r ->> 'tbl') END
			|| CASE WHEN r ->> 'col' = '' THEN '' ELSE '.' || (r ->> 'col') END
		ELSE r ->> 'id'
	END
$$;

-- governance_row_changed logs a row's change: its old key and, when an
-- insert or an update gave it another, its new one. TG_ARGV[0] is the kind.
CREATE FUNCTION governance_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	old_key TEXT;
	new_key TEXT;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		old_key := governance_key(TG_ARGV[0], to_jsonb(OLD));
		PERFORM governance_append(TG_ARGV[0], old_key);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		new_key := governance_key(TG_ARGV[0], to_jsonb(NEW));
		IF new_key IS DISTINCT FROM old_key THEN
			PERFORM governance_append(TG_ARGV[0], new_key);
		END IF;
	END IF;
	RETURN NULL;
END
$$;

-- Each governed table takes the counter's lock before each statement and
-- logs each row it changed.
DO $$
DECLARE
	t RECORD;
BEGIN
	FOR t IN SELECT * FROM (VALUES
		('datasets', 'dataset'), ('resource_tags', 'tags'), ('group_grants', 'grant'), ('tag_keys', 'tagkey')
	) AS governed (tbl, kind) LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT EXECUTE FUNCTION governance_lock()',
			t.tbl || '_governance_lock', t.tbl);
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION governance_row_changed(%L)',
			t.tbl || '_governance', t.tbl, t.kind);
	END LOOP;
END
$$;
