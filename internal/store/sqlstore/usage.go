package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

// monthExpr is the SQL that truncates start_time to its month, as
// "YYYY-MM" in UTC.
func (s *Store) monthExpr() string {
	if s.dialect.Name == "sqlite" {
		// Times are RFC 3339 text in UTC.
		return `strftime('%Y-%m', start_time)`
	}
	return `to_char(date_trunc('month', start_time AT TIME ZONE 'UTC'), 'YYYY-MM')`
}

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
	return s.sumUsage(ctx, "sum usage by "+col, col, `SUM(cost) DESC, k`, q)
}

// SumUsageByMonth implements store.Usage.
func (s *Store) SumUsageByMonth(ctx context.Context, q store.UsageQuery) ([]store.UsageSum, error) {
	return s.sumUsage(ctx, "sum usage by month", s.monthExpr(), `k`, q)
}

// sumUsage runs the aggregation that groups the records q selects by key
// (a column or an expression on one) in the given order; what names it in
// errors.
func (s *Store) sumUsage(ctx context.Context, what, key, order string, q store.UsageQuery) ([]store.UsageSum, error) {
	if q.Currency == "" {
		return nil, fmt.Errorf("%s: no currency", what)
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
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT `+key+` AS k, SUM(cost), COUNT(*)
FROM usage_records
WHERE `+where+`
GROUP BY k
ORDER BY `+order), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []store.UsageSum
	for rows.Next() {
		var u store.UsageSum
		if err := rows.Scan(&u.Key, costScanner{&u.Cost, s.costNanos()}, &u.Records); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
