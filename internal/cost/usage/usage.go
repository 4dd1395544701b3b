// Package usage holds the usage record: the usage and the cost of one job
// run, query or instance period, whether lakeplane measured it or it came
// from AWS. It is the type the store keeps and the cost service prices,
// imports and reports on, kept apart from both so that neither imports the
// other.
//
// Money is exact decimal (github.com/shopspring/decimal), never float. The
// store keeps costs to Scale fraction digits (nano-units of the currency);
// Normalize rounds a record's cost to that scale, so that what is reported
// is what was stored, on every database.
package usage

import (
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Scale is the number of fraction digits a stored cost keeps: costs are
// counted in nano-units of their currency (1e-9 USD).
const Scale = 9

// Source is where a usage record came from.
type Source string

// The sources of usage records.
const (
	// LakeplaneJob is a job that lakeplane ran.
	LakeplaneJob Source = "LAKEPLANE_JOB"
	// GlueJobRun is an AWS Glue job run.
	GlueJobRun Source = "GLUE_JOB_RUN"
	// AthenaQuery is an Amazon Athena query execution.
	AthenaQuery Source = "ATHENA_QUERY"
	// SageMakerNotebook is a period of a SageMaker notebook instance in
	// service.
	SageMakerNotebook Source = "SAGEMAKER_NOTEBOOK"
	// CUR is a line item of an AWS Cost and Usage Report.
	CUR Source = "CUR"
)

// Sources lists every Source, in declaration order.
var Sources = []Source{LakeplaneJob, GlueJobRun, AthenaQuery, SageMakerNotebook, CUR}

// Valid reports whether s is one of Sources.
func (s Source) Valid() bool {
	return slices.Contains(Sources, s)
}

// Units of usage quantities.
const (
	UnitDPUHours      = "DPU-hours"
	UnitBytesScanned  = "bytes-scanned"
	UnitInstanceHours = "instance-hours"
	UnitCPUSeconds    = "cpu-seconds"
)

// Record is the usage and cost of one job run, query or instance period.
type Record struct {
	// ID identifies the record and makes recording it idempotent: a
	// record whose ID is stored already is not stored again. Importers
	// derive it from the source's own id (line item id, job run id, query
	// execution id), so that importing a file twice counts nothing twice.
	ID       string
	Source   Source
	Resource string
	Dataset  string
	Team     string
	// Service is the AWS service (AWSGlue, AmazonAthena, ...) or
	// "lakeplane".
	Service   string
	StartTime time.Time
	EndTime   time.Time
	// Quantity is the amount used, in Unit.
	Quantity decimal.Decimal
	Unit     string
	// Cost is what the usage cost, in Currency, to Scale fraction digits.
	Cost     decimal.Decimal
	Currency string
	// Attributes are further facts about the usage (job name, worker
	// type, query state, tags, ...).
	Attributes map[string]string
}

// Clone returns a copy of r that shares nothing with it.
func (r *Record) Clone() *Record {
	c := *r
	c.Attributes = maps.Clone(r.Attributes)
	return &c
}

// Normalize puts r in the form the store keeps: times in UTC truncated to
// microseconds, and the cost rounded half away from zero to Scale digits.
func (r *Record) Normalize() {
	r.StartTime = r.StartTime.UTC().Truncate(time.Microsecond)
	r.EndTime = r.EndTime.UTC().Truncate(time.Microsecond)
	r.Cost = RoundMoney(r.Cost)
}

// Validate reports the first thing wrong with r, as a fault.FieldError
// naming the field ("startTime").
func (r *Record) Validate() error {
	switch {
	case r.ID == "":
		return fault.Invalid("id", "is required")
	case !r.Source.Valid():
		return fault.Invalid("source", "%q is not a usage source", r.Source)
	case r.StartTime.IsZero():
		return fault.Invalid("startTime", "is required")
	case !r.EndTime.IsZero() && r.EndTime.Before(r.StartTime):
		return fault.Invalid("endTime", "%s is before startTime %s", r.EndTime.Format(time.RFC3339Nano), r.StartTime.Format(time.RFC3339Nano))
	case r.Currency == "":
		return fault.Invalid("currency", "is required")
	}
	return nil
}

// RoundMoney rounds d half away from zero to Scale fraction digits.
func RoundMoney(d decimal.Decimal) decimal.Decimal {
	return d.Round(Scale)
}

// FormatMoney renders d as the API shows money: a plain decimal string
// without exponent and without trailing fraction zeros ("0.44", "12",
// "-0.000000001").
func FormatMoney(d decimal.Decimal) string {
	return d.String()
}
