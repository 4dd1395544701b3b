-- Datasets, keyed by "namespace.table". spec holds the dataset's fields
-- other than its id, etag and times, as JSON. Times are RFC 3339 text in UTC
-- with exactly six fractional digits, so that they sort as they compare.
CREATE TABLE datasets (
	id          TEXT NOT NULL PRIMARY KEY,
	namespace   TEXT NOT NULL,
	spec        TEXT NOT NULL,
	etag        TEXT NOT NULL,
	create_time TEXT NOT NULL,
	update_time TEXT NOT NULL
);

CREATE INDEX datasets_namespace_id ON datasets (namespace, id);
