-- Usage records: the usage and cost of every job run, query and instance
-- period. id is the record's dedupe key (the source's own id), so that
-- recording the same usage twice stores it once. cost is an exact integer
-- count of nano-units of the currency (1e-9 USD), so that SUM(cost) is
-- exact; quantity is decimal text, attributes a JSON object. Times are RFC
-- 3339 text in UTC with exactly six fractional digits, so that they sort
-- as they compare.
CREATE TABLE usage_records (
	id         TEXT NOT NULL PRIMARY KEY,
	source     TEXT NOT NULL,
	resource   TEXT NOT NULL,
	dataset    TEXT NOT NULL,
	team       TEXT NOT NULL,
	service    TEXT NOT NULL,
	start_time TEXT NOT NULL,
	end_time   TEXT,
	quantity   TEXT NOT NULL,
	unit       TEXT NOT NULL,
	cost       INTEGER NOT NULL,
	currency   TEXT NOT NULL,
	attributes TEXT NOT NULL DEFAULT '{}'
);

-- Reports select a period of one currency.
CREATE INDEX usage_records_start ON usage_records (currency, start_time);
