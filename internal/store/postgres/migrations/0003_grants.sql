-- Tag keys and their allowed values (values: a JSON array of strings, in
-- their defined order). The grade key is defined by the configuration and is
-- not kept here. Names sort by byte (COLLATE "C"), as in SQLite.
CREATE TABLE tag_keys (
	key         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	vals        TEXT NOT NULL,
	create_time TIMESTAMPTZ NOT NULL
);

-- Explicit tags of databases (tbl = col = ''), tables (col = '') and
-- columns, one value per key. The grade tag of tables and columns is the
-- grade of their dataset, not a row here.
CREATE TABLE resource_tags (
	db  TEXT COLLATE "C" NOT NULL,
	tbl TEXT COLLATE "C" NOT NULL,
	col TEXT COLLATE "C" NOT NULL,
	key TEXT COLLATE "C" NOT NULL,
	val TEXT NOT NULL,
	PRIMARY KEY (db, tbl, col, key)
);

-- Whether a tag key is in use.
CREATE INDEX resource_tags_key ON resource_tags (key);

-- Group grants: permissions and domains are JSON arrays of strings.
CREATE TABLE group_grants (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	grp         TEXT COLLATE "C" NOT NULL,
	grade       INTEGER NOT NULL,
	permissions TEXT NOT NULL,
	domains     TEXT NOT NULL,
	create_time TIMESTAMPTZ NOT NULL
);

CREATE INDEX group_grants_grp_id ON group_grants (grp, id);
