-- Usage records: the usage and cost of every job run, query and instance
-- period. id is the record's dedupe key (the source's own id), so that
-- recording the same usage twice stores it once. cost is exact NUMERIC with
-- nine fraction digits (nano-units of the currency, as SQLite keeps them),
-- so that SUM(cost) is exact; quantity is decimal text, attributes a JSON
-- object kept as TEXT. Keys sort by byte (COLLATE "C"), as in SQLite, so
-- that reports order ties alike on both.
CREATE TABLE usage_records (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	source     TEXT COLLATE "C" NOT NULL,
	resource   TEXT COLLATE "C" NOT NULL,
	dataset    TEXT COLLATE "C" NOT NULL,
	team       TEXT COLLATE "C" NOT NULL,
	service    TEXT COLLATE "C" NOT NULL,
	start_time TIMESTAMPTZ NOT NULL,
	end_time   TIMESTAMPTZ,
	quantity   TEXT NOT NULL,
	unit       TEXT NOT NULL,
	cost       NUMERIC(38, 9) NOT NULL,
	currency   TEXT NOT NULL,
	attributes TEXT NOT NULL DEFAULT '{}'
);

-- Reports select a period of one currency.
CREATE INDEX usage_records_start ON usage_records (currency, start_time);
