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
	// ProfileUsage describes the records that q selects per value of
	// q.GroupBy, in key order, for savings recommendations: their cost,
	// how many failed, how many were short, what they processed. It
	// aggregates in the database, like SumUsage.
	ProfileUsage(ctx context.Context, q UsageProfileQuery) ([]UsageProfile, error)
	// ListNotebookActivity describes, per notebook instance (the resource
	// of SageMakerNotebook records), what the records that q selects tell
	// of its activity, in resource order. q.GroupBy is ignored.
	ListNotebookActivity(ctx context.Context, q UsageQuery) ([]NotebookActivity, error)
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

// UsageProfileQuery selects the usage records to profile.
type UsageProfileQuery struct {
	// UsageQuery bounds the period, names the currency and the grouping.
	UsageQuery
	// Source keeps the records of that source only; every source when
	// empty.
	Source usage.Source
	// FailedStates are the values of the "state" attribute that count a
	// record as failed (e.g. FAILED, TIMEOUT, ERROR).
	FailedStates []string
	// ShortSeconds counts in UsageProfile.Short the records whose
	// "executionTime" attribute (whole seconds) is at most it; 0 counts
	// none.
	ShortSeconds int64
}

// UsageProfile describes a group of usage records.
type UsageProfile struct {
	// Key is the group's value of the GroupBy field.
	Key string
	// Team and Dataset are the greatest of the records' teams and
	// datasets, so that one record naming them is enough ("" when none
	// does).
	Team, Dataset string
	// Cost is the exact sum of the records' costs, Records their number.
	Cost    decimal.Decimal
	Records int64
	// Quantity and MaxQuantity are the sum and the largest of the
	// records' quantities, in floating point: for ratios, never money.
	Quantity, MaxQuantity float64
	// Failed and FailedCost are the number and the exact cost of the
	// records whose "state" attribute is one of FailedStates.
	Failed     int64
	FailedCost decimal.Decimal
	// Short and ShortCost are the number and the exact cost of the
	// records whose "executionTime" attribute is at most ShortSeconds.
	Short     int64
	ShortCost decimal.Decimal
	// BytesProcessed is the sum of the "bytesRead" and "bytesWritten"
	// attributes (whole numbers) over the BytesRecords records that have
	// either.
	BytesProcessed float64
	BytesRecords   int64
}

// NotebookActivity is what the usage records of one notebook instance
// tell of its activity.
type NotebookActivity struct {
	// Resource is the records' resource ("sagemaker:notebook/<name>").
	Resource string
	// InstanceType is the greatest "instanceType" attribute.
	InstanceType string
	// InServiceSince is the latest "inServiceSince" attribute (the
	// instance's LastModifiedTime: when it was last started or updated),
	// and LastActivity the latest "lastActivity" attribute; zero when no
	// record has one that is RFC 3339 text.
	InServiceSince, LastActivity time.Time
	// LastEnd is the latest end (or start, for records without an end)
	// of the records: the instance was in service until then.
	LastEnd time.Time
	// Cost is the exact sum of the records' costs, Records their number.
	Cost    decimal.Decimal
	Records int64
}
