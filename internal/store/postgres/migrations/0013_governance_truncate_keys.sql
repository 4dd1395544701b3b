-- TRUNCATE fires no row triggers, so emptying a governed table that way
-- would leave the governance change log (0012) without the rows it
-- removed. Each such TRUNCATE appends one change of kind 'reload', keyed
-- by the table's name, on which replicas reload their whole index.
-- (SQLite has no TRUNCATE: its DELETE without WHERE runs the row triggers
-- of a table that has any.)
CREATE FUNCTION governance_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM governance_append('reload', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

DO $$
DECLARE
	t TEXT;
BEGIN
	FOREACH t IN ARRAY ARRAY['datasets', 'resource_tags', 'group_grants', 'tag_keys'] LOOP
		EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION governance_truncated()',
			t || '_governance_truncate', t);
	END LOOP;
END
$$;

-- governance_row_changed (0012) read a row's key through to_jsonb of the
-- whole row: for datasets, the whole spec, twice per update, while the
-- counter's lock is held. governance_row_key reads the key's columns
-- alone; PL/pgSQL compiles it once per table's row type, and a branch
-- reads only columns its table has.
CREATE FUNCTION governance_row_key(kind TEXT, r RECORD) RETURNS TEXT LANGUAGE plpgsql AS $$
BEGIN
	CASE kind
	WHEN 'tagkey' THEN
		RETURN r.key;
	WHEN 'tags' THEN
		RETURN r.db
			|| CASE WHEN r.tbl = '' THEN '' ELSE '.' || r.tbl END
			|| CASE WHEN r.col = '' THEN '' ELSE '.' || r.col END;
	ELSE
		RETURN r.id;
	END CASE;
END
$$;

CREATE OR REPLACE FUNCTION governance_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	old_key TEXT;
	new_key TEXT;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		old_key := governance_row_key(TG_ARGV[0], OLD);
		PERFORM governance_append(TG_ARGV[0], old_key);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		new_key := governance_row_key(TG_ARGV[0], NEW);
		IF new_key IS DISTINCT FROM old_key THEN
			PERFORM governance_append(TG_ARGV[0], new_key);
		END IF;
	END IF;
	RETURN NULL;
END
$$;

DROP FUNCTION governance_key(TEXT, JSONB);
