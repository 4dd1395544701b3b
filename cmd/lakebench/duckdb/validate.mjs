// The DuckDB reference of `lakebench validate`: the benchmark suite's ten
// checks as one SQL query over read_csv, timed from the query's start to
// its last row. Usage: node validate.mjs <csv> <threads>; prints JSON.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const db = await instance.connect();
const source = `read_csv('${file.replaceAll("'", "''")}', header = true)`;
const columns = (await db.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRows().map((r) => r[0]);
const start = performance.now();
const checks = await db.runAndReadAll(`SELECT
  count(*) AS row_count,
  count(*) FILTER (WHERE customer_id IS NULL) AS customer_id_null,
  count(*) FILTER (WHERE policy_no IS NULL) AS policy_no_null,
  count(*) FILTER (WHERE premium IS NULL) AS premium_null,
  count(*) - count(DISTINCT customer_id) AS customer_id_repeats,
  count(*) FILTER (WHERE gender IS NULL OR gender NOT IN ('M', 'F')) AS gender_bad,
  count(*) FILTER (WHERE premium IS NULL OR premium < 0 OR premium > 1000000) AS premium_bad,
  count(*) FILTER (WHERE rrn IS NULL OR NOT regexp_full_match(rrn, '\\d{6}-\\d{7}')) AS rrn_bad,
  count(*) FILTER (WHERE length(name) > 20) AS name_long
FROM ${source}`);
const seconds = (performance.now() - start) / 1000;
const row = checks.getRows()[0].map(Number);
console.log(JSON.stringify({ seconds, rows: row[0], failures: row.slice(1).reduce((a, b) => a + b, 0), columns }));
