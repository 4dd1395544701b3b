package store

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
)

// Usage keeps usage records, the usage and cost of every job run, query
// and instance period, and sums their cost in the database. Records are
// kept as usage.Record.Normalize leaves them: times in UTC to the
// microsecond, costs to usage.Scale fraction digits, exactly.
type Usage interface {
	// InsertUsage stores, in one transaction, the records whose ID is not
	// stored yet and returns how many it stored; the others (stored before,
	// or earlier in recs) are left as they are, so that recording the same
	// usage twice counts it once. A record that cannot be stored (no ID, a
	// cost with more than usage.Scale fraction digits or out of range) fails
	// the whole batch, and nothing is stored.
	InsertUsage(ctx context.Context, recs []*usage.Record) (inserted int, err error)
	// GetUsage returns the record with the given id, or ErrNotFound.
	GetUsage(ctx context.Context, id string) (*usage.Record, error)
	// SumUsage returns the cost and number of the records that q selects,
	// per value of q.GroupBy, most costly first and then by key.
	SumUsage(ctx context.Context, q UsageQuery) ([]UsageSum, error)
	// SumUsageByMonth returns the cost and number of the records that q
	// selects per calendar month (UTC) of their start time, in month
	// order; months without records are left out. q.GroupBy is ignored.
	SumUsageByMonth(ctx context.Context, q UsageQuery) ([]UsageSum, error)
}

// UsageGroupBy names the field that usage sums are grouped by.
type UsageGroupBy string

// The fields usage sums can be grouped by.
const (
	GroupByResource UsageGroupBy = "resource"
	GroupByTeam     UsageGroupBy = "team"
	GroupByDataset  UsageGroupBy = "dataset"
	GroupBySource   UsageGroupBy = "source"
	GroupByService  UsageGroupBy = "service"
)

// UsageGroupBys lists every UsageGroupBy.
var UsageGroupBys = []UsageGroupBy{GroupByResource, GroupByTeam, GroupByDataset, GroupBySource, GroupByService}

// UsageQuery selects the usage records to sum.
type UsageQuery struct {
	// Start and End bound the records' start time: Start <= start < End.
	// A zero bound leaves that side open.
	Start, End time.Time
	// Currency keeps the records in that currency; it is required, since
	// costs in different currencies do not add up.
	Currency string
	// GroupBy is the field SumUsage groups by.
	GroupBy UsageGroupBy
}

// UsageSum is the cost of a group of usage records.
type UsageSum struct {
	// Key is the group's value of the GroupBy field, or the month
	// ("YYYY-MM") for SumUsageByMonth.
	Key string
	// Cost is the exact sum of the records' costs.
	Cost decimal.Decimal
	// Records is the number of records in the group.
	Records int64
}
