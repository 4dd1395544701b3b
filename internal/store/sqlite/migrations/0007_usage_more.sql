-- Reports read usage without touching the table: covering indexes for the
-- sums by month (a range of start_time) and by group (resource, the
-- default grouping, in key order so that grouping needs no sort). The
-- first supersedes usage_records_start.
CREATE INDEX usage_records_period ON usage_records (currency, start_time, cost);
CREATE INDEX usage_records_resource ON usage_records (currency, resource, start_time, cost);
DROP INDEX usage_records_start;
