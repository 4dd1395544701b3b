package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.Usage = (*Store)(nil)

// usageColumns are the columns of usage_records, in the order scanUsage
// reads them.
const usageColumns = `id, source, resource, dataset, team, service, start_time, end_time,
	quantity, unit, cost, currency, attributes`

// usageGroupColumns maps each grouping to its column; only these names
// ever reach a statement.
var usageGroupColumns = map[store.UsageGroupBy]string{
	store.GroupByResource: "resource",
	store.GroupByTeam:     "team",
	store.GroupByDataset:  "dataset",
	store.GroupBySource:   "source",
	store.GroupByService:  "service",
}

// costNanos reports whether the dialect keeps costs as an integer count of
// nano-units (SQLite, whose SUM over decimal text would go through
// floating point) rather than as exact NUMERIC (PostgreSQL).
func (s *Store) costNanos() bool { return s.dialect.Name == "sqlite" }

// nanosPerUnit turns a cost into nano-units.
var nanosPerUnit = decimal.New(1, usage.Scale)

// costArg converts a cost into the argument that stores it exactly, or
// fails when it has more than usage.Scale fraction digits or does not fit.
func (s *Store) costArg(c decimal.Decimal) (any, error) {
	if !c.Round(usage.Scale).Equal(c) {
		return nil, fmt.Errorf("cost %s has more than %d fraction digits", c, usage.Scale)
	}
	n := c.Mul(nanosPerUnit).BigInt()
	if !n.IsInt64() {
		return nil, fmt.Errorf("cost %s is out of range", c)
	}
	if s.costNanos() {
		return n.Int64(), nil
	}
	// NUMERIC(38, 9): 29 integer digits, more than an int64 of nanos.
	return c.StringFixed(usage.Scale), nil
}

// costScanner scans a cost, or a SUM of costs, as the dialect keeps it:
// an integer count of nano-units or exact decimal text.
type costScanner struct {
	d     *decimal.Decimal
	nanos bool
}

// Scan implements sql.Scanner.
func (cs costScanner) Scan(src any) error {
	if n, ok := src.(int64); ok && cs.nanos {
		*cs.d = decimal.New(n, -usage.Scale)
		return nil
	}
	var text string
	switch v := src.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		// SQLite answers TEXT or REAL only for values it did not store.
		return fmt.Errorf("stored cost: unsupported type %T", src)
	}
	if cs.nanos {
		return fmt.Errorf("stored cost %q: want an integer count of nano-units", text)
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return fmt.Errorf("stored cost %q: %w", text, err)
	}
	*cs.d = d
	return nil
}

// InsertUsage implements store.Usage.
func (s *Store) InsertUsage(ctx context.Context, recs []*usage.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	type row []any
	rows := make([]row, 0, len(recs))
	for i, r := range recs {
		if r.ID == "" {
			return 0, fmt.Errorf("insert usage: record %d: no id", i)
		}
		cost, err := s.costArg(r.Cost)
		if err != nil {
			return 0, fmt.Errorf("insert usage %q: %w", r.ID, err)
		}
		attrs := r.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrJSON, err := json.Marshal(attrs)
		if err != nil {
			return 0, fmt.Errorf("insert usage %q: attributes: %w", r.ID, err)
		}
		var end any
		if !r.EndTime.IsZero() {
			end = s.timeArg(storedTime(r.EndTime))
		}
		rows = append(rows, row{r.ID, string(r.Source), r.Resource, r.Dataset, r.Team, r.Service,
			s.timeArg(storedTime(r.StartTime)), end, r.Quantity.String(), r.Unit, cost, r.Currency, string(attrJSON)})
	}
	inserted := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.bind(`INSERT INTO usage_records (`+usageColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`))
		if err != nil {
			return fmt.Errorf("insert usage: prepare: %w", err)
		}
		defer stmt.Close()
		for _, r := range rows {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("insert usage: %w", err)
			}
			n, err := affected(stmt.ExecContext(ctx, r...))
			if err != nil {
				return fmt.Errorf("insert usage %q: %w", r[0], err)
			}
			inserted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

// storedTime is t as the store keeps it: UTC, truncated to microseconds.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// GetUsage implements store.Usage.
func (s *Store) GetUsage(ctx context.Context, id string) (*usage.Record, error) {
	r := &usage.Record{}
	var source, quantity, attrs string
	err := s.db.QueryRowContext(ctx, s.bind(`SELECT `+usageColumns+` FROM usage_records WHERE id = ?`), id).Scan(
		&r.ID, &source, &r.Resource, &r.Dataset, &r.Team, &r.Service,
		timeScanner{&r.StartTime}, nullTimeScanner{&r.EndTime},
		&quantity, &r.Unit, costScanner{&r.Cost, s.costNanos()}, &r.Currency, &attrs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("usage record %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get usage record %q: %w", id, err)
	}
	r.Source = usage.Source(source)
	if r.Quantity, err = decimal.NewFromString(quantity); err != nil {
		return nil, fmt.Errorf("usage record %q: stored quantity %q: %w", id, quantity, err)
	}
	if err := json.Unmarshal([]byte(attrs), &r.Attributes); err != nil {
		return nil, fmt.Errorf("usage record %q: stored attributes: %w", id, err)
	}
	if len(r.Attributes) == 0 {
		r.Attributes = nil
	}
	return r, nil
}

// SumUsage implements store.Usage.
func (s *Store) SumUsage(ctx context.Context, q store.UsageQuery) ([]store.UsageSum, error) {
	col, ok := usageGroupColumns[q.GroupBy]
	if !ok {
		return nil, fmt.Errorf("sum usage: cannot group by %q", q.GroupBy)
	}
	return s.sumUsage(ctx, "sum usage by "+col, col, q)
}

// SumUsageByMonth implements store.Usage.
func (s *Store) SumUsageByMonth(ctx context.Context, q store.UsageQuery) ([]store.UsageSum, error) {
	const what = "sum usage by month"
	where, args, err := s.usageWhere(what, q)
	if err != nil {
		return nil, err
	}
	// The first and the last start, then one range sum per month between:
	// plain index range scans, with nothing computed per record.
	var first, last time.Time
	err = s.db.QueryRowContext(ctx, s.bind(`SELECT (SELECT MIN(start_time) FROM usage_records WHERE `+where+`),
	(SELECT MAX(start_time) FROM usage_records WHERE `+where+`)`), append(slices.Clone(args), args...)...).Scan(
		nullTimeScanner{&first}, nullTimeScanner{&last})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if first.IsZero() {
		return nil, nil
	}
	stmt, err := s.db.PrepareContext(ctx, s.bind(`SELECT SUM(cost), COUNT(*) FROM usage_records
WHERE currency = ? AND start_time >= ? AND start_time < ?`))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer stmt.Close()
	var sums []store.UsageSum
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(last); m = m.AddDate(0, 1, 0) {
		lo, hi := m, m.AddDate(0, 1, 0)
		if !q.Start.IsZero() && q.Start.After(lo) {
			lo = q.Start
		}
		if !q.End.IsZero() && q.End.Before(hi) {
			hi = q.End
		}
		u := store.UsageSum{Key: m.Format("2006-01")}
		var c any
		if err := stmt.QueryRowContext(ctx, q.Currency, s.timeArg(storedTime(lo)), s.timeArg(storedTime(hi))).Scan(&c, &u.Records); err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, u.Key, err)
		}
		if u.Records == 0 {
			continue
		}
		if err := (costScanner{&u.Cost, s.costNanos()}).Scan(c); err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, u.Key, err)
		}
		sums = append(sums, u)
	}
	return sums, nil
}

// sumUsage runs the aggregation that groups the records q selects by
// the column col, most costly first and then by key; what names it in
// errors.
func (s *Store) sumUsage(ctx context.Context, what, col string, q store.UsageQuery) ([]store.UsageSum, error) {
	where, args, err := s.usageWhere(what, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT `+col+` AS k, SUM(cost), COUNT(*)
FROM usage_records
WHERE `+where+`
GROUP BY k
ORDER BY SUM(cost) DESC, k`), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var sums []store.UsageSum
	for rows.Next() {
		var u store.UsageSum
		if err := rows.Scan(&u.Key, costScanner{&u.Cost, s.costNanos()}, &u.Records); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		sums = append(sums, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return sums, nil
}

// usageWhere returns the condition, and its arguments, that selects the
// records of q's currency and period; what names the caller in errors.
func (s *Store) usageWhere(what string, q store.UsageQuery) (string, []any, error) {
	if q.Currency == "" {
		return "", nil, fmt.Errorf("%s: no currency", what)
	}
	where, args := `currency = ?`, []any{q.Currency}
	if !q.Start.IsZero() {
		where += ` AND start_time >= ?`
		args = append(args, s.timeArg(storedTime(q.Start)))
	}
	if !q.End.IsZero() {
		where += ` AND start_time < ?`
		args = append(args, s.timeArg(storedTime(q.End)))
	}
	return where, args, nil
}

// attrExpr is the SQL that reads the attribute key (a constant of this
// file, never input) of a record as text, NULL when it has none.
func (s *Store) attrExpr(key string) string {
	if s.dialect.Name == "sqlite" {
		return `json_extract(attributes, '$.` + key + `')`
	}
	return `(CAST(attributes AS jsonb) ->> '` + key + `')`
}

// wholeExpr is the SQL that reads the attribute key as a floating-point
// number when it is a whole number of at most 18 digits, else NULL, alike
// on every dialect.
func (s *Store) wholeExpr(key string) string {
	a := s.attrExpr(key)
	if s.dialect.Name == "sqlite" {
		return `CASE WHEN length(` + a + `) BETWEEN 1 AND 18 AND ` + a + ` NOT GLOB '*[^0-9]*' THEN CAST(` + a + ` AS REAL) END`
	}
	return `CASE WHEN ` + a + ` ~ '^[0-9]{1,18}$' THEN CAST(` + a + ` AS DOUBLE PRECISION) END`
}

// floatType is the dialect's floating-point type, for quantities.
func (s *Store) floatType() string {
	if s.dialect.Name == "sqlite" {
		return "REAL"
	}
	return "DOUBLE PRECISION"
}

// ProfileUsage implements store.Usage.
func (s *Store) ProfileUsage(ctx context.Context, q store.UsageProfileQuery) ([]store.UsageProfile, error) {
	col, ok := usageGroupColumns[q.GroupBy]
	if !ok {
		return nil, fmt.Errorf("profile usage: cannot group by %q", q.GroupBy)
	}
	what := "profile usage by " + col
	where, args, err := s.usageWhere(what, q.UsageQuery)
	if err != nil {
		return nil, err
	}
	if q.Source != "" {
		where += ` AND source = ?`
		args = append(args, string(q.Source))
	}
	failed := `0`
	if len(q.FailedStates) > 0 {
		failed = `CASE WHEN ` + s.attrExpr("state") + ` IN (?` + strings.Repeat(`, ?`, len(q.FailedStates)-1) + `) THEN 1 ELSE 0 END`
	}
	// The arguments in the order of their parameters: the outer select
	// list's, the inner one's, then WHERE's.
	selArgs := []any{q.ShortSeconds, q.ShortSeconds}
	for _, st := range q.FailedStates {
		selArgs = append(selArgs, st)
	}
	args = append(selArgs, args...)
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT k, MAX(team), MAX(dataset), SUM(cost), COUNT(*),
	SUM(qty), MAX(qty), SUM(failed), SUM(CASE WHEN failed = 1 THEN cost ELSE 0 END),
	SUM(CASE WHEN et <= ? THEN 1 ELSE 0 END), SUM(CASE WHEN et <= ? THEN cost ELSE 0 END),
	SUM(COALESCE(br, 0) + COALESCE(bw, 0)), SUM(CASE WHEN br IS NULL AND bw IS NULL THEN 0 ELSE 1 END)
FROM (SELECT `+col+` AS k, team, dataset, cost, CAST(quantity AS `+s.floatType()+`) AS qty,
		`+failed+` AS failed, `+s.wholeExpr("executionTime")+` AS et,
		`+s.wholeExpr("bytesRead")+` AS br, `+s.wholeExpr("bytesWritten")+` AS bw
	FROM usage_records
	WHERE `+where+`) r
GROUP BY k
ORDER BY k`), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []store.UsageProfile
	for rows.Next() {
		var p store.UsageProfile
		if err := rows.Scan(&p.Key, &p.Team, &p.Dataset, costScanner{&p.Cost, s.costNanos()}, &p.Records,
			&p.Quantity, &p.MaxQuantity, &p.Failed, costScanner{&p.FailedCost, s.costNanos()},
			&p.Short, costScanner{&p.ShortCost, s.costNanos()}, &p.BytesProcessed, &p.BytesRecords); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ListNotebookActivity implements store.Usage.
func (s *Store) ListNotebookActivity(ctx context.Context, q store.UsageQuery) ([]store.NotebookActivity, error) {
	const what = "list notebook activity"
	where, args, err := s.usageWhere(what, q)
	if err != nil {
		return nil, err
	}
	args = append(args, string(usage.SageMakerNotebook))
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT resource, MAX(it), MAX(since), MAX(act), MAX(COALESCE(end_time, start_time)), SUM(cost), COUNT(*)
FROM (SELECT resource, `+s.attrExpr("instanceType")+` AS it, `+s.attrExpr("inServiceSince")+` AS since,
		`+s.attrExpr("lastActivity")+` AS act, start_time, end_time, cost
	FROM usage_records
	WHERE `+where+` AND source = ?) r
GROUP BY resource
ORDER BY resource`), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []store.NotebookActivity
	for rows.Next() {
		var (
			a              store.NotebookActivity
			it, since, act sql.NullString
		)
		if err := rows.Scan(&a.Resource, &it, &since, &act, nullTimeScanner{&a.LastEnd},
			costScanner{&a.Cost, s.costNanos()}, &a.Records); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		a.InstanceType = it.String
		a.InServiceSince = attrTime(since)
		a.LastActivity = attrTime(act)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// attrTime parses a time attribute, RFC 3339 text; the zero time when it
// is NULL or not RFC 3339.
func attrTime(v sql.NullString) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v.String)
	if !v.Valid || err != nil {
		return time.Time{}
	}
	return t.UTC()
}
