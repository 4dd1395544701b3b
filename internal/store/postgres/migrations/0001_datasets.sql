-- Datasets, keyed by "namespace.table". spec holds the dataset's fields
-- other than its id, etag and times, as JSON. Ids sort by byte (COLLATE "C"),
-- as in SQLite, so that keyset paging is independent of the locale.
CREATE TABLE datasets (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	namespace   TEXT COLLATE "C" NOT NULL,
	spec        TEXT NOT NULL,
	etag        TEXT NOT NULL,
	create_time TIMESTAMPTZ NOT NULL,
	update_time TIMESTAMPTZ NOT NULL
);

CREATE INDEX datasets_namespace_id ON datasets (namespace, id);
