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
