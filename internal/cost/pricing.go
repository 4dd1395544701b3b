package cost

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
)

// Byte multiples Athena bills by: a megabyte is 2^20 bytes, a terabyte
// 2^40 bytes, so a terabyte is 2^20 megabytes.
const (
	bytesPerMB = 1 << 20
	mbPerTB    = 1 << 20
)

// secondsPerHour is what turns hourly rates into per-second ones.
const secondsPerHour = 3600

// Prices is the price table: the rates at which usage is priced when its
// source does not say what it cost. It is data, read from the
// configuration; DefaultPrices gives AWS's us-east-1 list prices. Every rate
// is an exact decimal in Currency.
type Prices struct {
	// Currency is the currency of every rate, e.g. "USD".
	Currency string
	// GlueDPUHour is the rate of a standard Glue Spark or streaming job,
	// per DPU-hour.
	GlueDPUHour decimal.Decimal
	// GlueFlexDPUHour is the rate of a Glue job run with the FLEX
	// execution class, per DPU-hour.
	GlueFlexDPUHour decimal.Decimal
	// GluePythonShellDPUHour is the rate of a Glue Python shell job (0.0625
	// or 1 DPU), per DPU-hour.
	GluePythonShellDPUHour decimal.Decimal
	// GlueMinimumSeconds is the shortest duration a Glue run is billed
	// for; runs are billed per second above it.
	GlueMinimumSeconds int64
	// GlueWorkerDPU is the number of DPUs of each Glue worker type.
	GlueWorkerDPU map[string]decimal.Decimal
	// AthenaPerTB is the rate of Athena per terabyte (2^40 bytes)
	// scanned. Scans are rounded up to the megabyte (2^20 bytes).
	AthenaPerTB decimal.Decimal
	// AthenaMinimumMB is the least a charged Athena query is billed for,
	// in megabytes.
	AthenaMinimumMB int64
	// NotebookHourly is the rate of each SageMaker notebook instance type
	// per instance-hour, billed per second.
	NotebookHourly map[string]decimal.Decimal
	// CPUHour is the rate of a lakeplane job per CPU-hour.
	CPUHour decimal.Decimal
	// PerGBProcessed is the rate of a lakeplane job per gigabyte (2^30
	// bytes) read or written.
	PerGBProcessed decimal.Decimal
}

// DefaultPrices returns the default price table: AWS's us-east-1 list
// prices in USD. Glue: $0.44 per DPU-hour (Python shell too), Flex $0.29,
// billed per second with a 1-minute minimum. Athena: $5 per TB scanned,
// rounded up to the MB, 10 MB minimum per query. SageMaker notebook
// instances by the hour. Lakeplane jobs: $0.04048 per CPU-hour (a Fargate
// vCPU-hour) and nothing per byte.
func DefaultPrices() Prices {
	d := decimal.RequireFromString
	return Prices{
		Currency:               "USD",
		GlueDPUHour:            d("0.44"),
		GlueFlexDPUHour:        d("0.29"),
		GluePythonShellDPUHour: d("0.44"),
		GlueMinimumSeconds:     60,
		GlueWorkerDPU: map[string]decimal.Decimal{
			"Standard": d("1"),
			"G.025X":   d("0.25"),
			"G.1X":     d("1"),
			"G.2X":     d("2"),
			"G.4X":     d("4"),
			"G.8X":     d("8"),
			"G.12X":    d("12"),
			"G.16X":    d("16"),
			"R.1X":     d("1"),
			"R.2X":     d("2"),
			"R.4X":     d("4"),
			"R.8X":     d("8"),
			"Z.2X":     d("2"),
		},
		AthenaPerTB:     d("5"),
		AthenaMinimumMB: 10,
		NotebookHourly: map[string]decimal.Decimal{
			"ml.t3.medium":   d("0.05"),
			"ml.t3.large":    d("0.1"),
			"ml.t3.xlarge":   d("0.2"),
			"ml.t3.2xlarge":  d("0.399"),
			"ml.m5.xlarge":   d("0.23"),
			"ml.m5.2xlarge":  d("0.461"),
			"ml.m5.4xlarge":  d("0.922"),
			"ml.c5.xlarge":   d("0.204"),
			"ml.c5.2xlarge":  d("0.408"),
			"ml.g4dn.xlarge": d("0.7364"),
			"ml.p3.2xlarge":  d("3.825"),
		},
		CPUHour:        d("0.04048"),
		PerGBProcessed: decimal.Zero,
	}
}

// Validate reports the first rate that is missing or negative.
func (p Prices) Validate() error {
	if p.Currency == "" {
		return fmt.Errorf("prices: currency is required")
	}
	rates := map[string]decimal.Decimal{
		"glueDpuHour": p.GlueDPUHour, "glueFlexDpuHour": p.GlueFlexDPUHour,
		"gluePythonShellDpuHour": p.GluePythonShellDPUHour, "athenaPerTb": p.AthenaPerTB,
		"cpuHour": p.CPUHour, "perGbProcessed": p.PerGBProcessed,
	}
	for k, v := range p.GlueWorkerDPU {
		rates["glueWorkerDpu."+k] = v
	}
	for k, v := range p.NotebookHourly {
		rates["notebookHourly."+k] = v
	}
	for _, name := range slices.Sorted(maps.Keys(rates)) {
		if rates[name].IsNegative() {
			return fmt.Errorf("prices: %s is negative (%s)", name, rates[name])
		}
	}
	if p.GlueMinimumSeconds < 0 || p.AthenaMinimumMB < 0 {
		return fmt.Errorf("prices: minimums must not be negative")
	}
	return nil
}

// GlueJobRun is what pricing needs of a Glue job run: the fields of the
// Glue API's JobRun.
type GlueJobRun struct {
	// ID is the run's id (JobRun.Id).
	ID      string
	JobName string
	State   string
	// StartedOn and CompletedOn bound the run.
	StartedOn   time.Time
	CompletedOn time.Time
	// ExecutionTime is the run's billed duration in seconds.
	ExecutionTime int64
	// MaxCapacity is the number of DPUs of a run sized by capacity
	// (Python shell jobs and jobs without a worker type); zero when unset.
	MaxCapacity decimal.Decimal
	// WorkerType and NumberOfWorkers size a run by workers.
	WorkerType      string
	NumberOfWorkers int64
	// DPUSeconds is what Glue measured for auto-scaled and Flex runs;
	// HasDPUSeconds tells whether it was reported.
	DPUSeconds    decimal.Decimal
	HasDPUSeconds bool
	// ExecutionClass is STANDARD or FLEX.
	ExecutionClass string
}

// PythonShell reports whether r is a Python shell run: one sized by
// capacity alone, at 1 DPU or less (Spark jobs take 2 DPUs or more).
func (r GlueJobRun) PythonShell() bool {
	return r.WorkerType == "" && r.NumberOfWorkers == 0 &&
		r.MaxCapacity.IsPositive() && r.MaxCapacity.LessThanOrEqual(decimal.NewFromInt(1))
}

// DPUSecondsBilled returns the DPU-seconds a Glue run is billed for:
// DPUSeconds when Glue reported them, else max(ExecutionTime, the
// minimum) × the run's DPUs, which are MaxCapacity or NumberOfWorkers ×
// the DPUs of WorkerType.
func (p Prices) DPUSecondsBilled(r GlueJobRun) (decimal.Decimal, error) {
	if r.HasDPUSeconds {
		if r.DPUSeconds.IsNegative() {
			return decimal.Zero, fmt.Errorf("glue run %q: DPUSeconds %s is negative", r.ID, r.DPUSeconds)
		}
		return r.DPUSeconds, nil
	}
	if r.ExecutionTime < 0 {
		return decimal.Zero, fmt.Errorf("glue run %q: ExecutionTime %d is negative", r.ID, r.ExecutionTime)
	}
	var dpus decimal.Decimal
	switch {
	case r.WorkerType != "":
		per, ok := p.GlueWorkerDPU[r.WorkerType]
		if !ok {
			return decimal.Zero, fmt.Errorf("glue run %q: unknown worker type %q", r.ID, r.WorkerType)
		}
		if r.NumberOfWorkers <= 0 {
			return decimal.Zero, fmt.Errorf("glue run %q: worker type %s with NumberOfWorkers %d", r.ID, r.WorkerType, r.NumberOfWorkers)
		}
		dpus = per.Mul(decimal.NewFromInt(r.NumberOfWorkers))
	case r.MaxCapacity.IsPositive():
		dpus = r.MaxCapacity
	default:
		return decimal.Zero, fmt.Errorf("glue run %q: neither MaxCapacity nor WorkerType and NumberOfWorkers", r.ID)
	}
	seconds := max(r.ExecutionTime, p.GlueMinimumSeconds)
	return dpus.Mul(decimal.NewFromInt(seconds)), nil
}

// GlueRate returns the rate per DPU-hour that r is billed at.
func (p Prices) GlueRate(r GlueJobRun) decimal.Decimal {
	switch {
	case strings.EqualFold(r.ExecutionClass, "FLEX"):
		return p.GlueFlexDPUHour
	case r.PythonShell():
		return p.GluePythonShellDPUHour
	default:
		return p.GlueDPUHour
	}
}

// GlueRunCost prices a Glue job run: DPUSecondsBilled × GlueRate / 3600,
// rounded half away from zero to usage.Scale digits once, at the end. It
// also returns the DPU-hours billed, rounded the same way.
func (p Prices) GlueRunCost(r GlueJobRun) (cost, dpuHours decimal.Decimal, err error) {
	dpuSeconds, err := p.DPUSecondsBilled(r)
	if err != nil {
		return decimal.Zero, decimal.Zero, err
	}
	hour := decimal.NewFromInt(secondsPerHour)
	cost = dpuSeconds.Mul(p.GlueRate(r)).DivRound(hour, usage.Scale)
	return cost, dpuSeconds.DivRound(hour, usage.Scale), nil
}

// AthenaQuery is what pricing needs of an Athena query execution: the
// fields of the Athena API's QueryExecution.
type AthenaQuery struct {
	ID string
	// State is QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.
	State string
	// StatementType is DDL, DML or UTILITY.
	StatementType      string
	DataScannedInBytes int64
	WorkGroup          string
	Database           string
	SubmittedOn        time.Time
	CompletedOn        time.Time
}

// AthenaMBBilled returns the megabytes an Athena query is billed for: none
// for DDL statements, failed queries and cancelled ones that scanned
// nothing; else the bytes scanned rounded up to the megabyte, and at
// least AthenaMinimumMB.
func (p Prices) AthenaMBBilled(q AthenaQuery) (int64, error) {
	if q.DataScannedInBytes < 0 {
		return 0, fmt.Errorf("athena query %q: DataScannedInBytes %d is negative", q.ID, q.DataScannedInBytes)
	}
	switch {
	case strings.EqualFold(q.StatementType, "DDL"),
		strings.EqualFold(q.State, "FAILED"),
		strings.EqualFold(q.State, "CANCELLED") && q.DataScannedInBytes == 0:
		return 0, nil
	}
	mb := q.DataScannedInBytes / bytesPerMB
	if q.DataScannedInBytes%bytesPerMB != 0 {
		mb++
	}
	return max(mb, p.AthenaMinimumMB), nil
}

// AthenaQueryCost prices an Athena query: AthenaMBBilled × AthenaPerTB /
// 2^20, rounded half away from zero to usage.Scale digits.
func (p Prices) AthenaQueryCost(q AthenaQuery) (decimal.Decimal, error) {
	mb, err := p.AthenaMBBilled(q)
	if err != nil {
		return decimal.Zero, err
	}
	return decimal.NewFromInt(mb).Mul(p.AthenaPerTB).DivRound(decimal.NewFromInt(mbPerTB), usage.Scale), nil
}

// NotebookCost prices a notebook instance of instanceType in service for
// seconds, billed per second at its hourly rate; it also returns the
// instance-hours. Rounding as for GlueRunCost.
func (p Prices) NotebookCost(instanceType string, seconds int64) (cost, hours decimal.Decimal, err error) {
	rate, ok := p.NotebookHourly[instanceType]
	if !ok {
		return decimal.Zero, decimal.Zero, fmt.Errorf("no hourly rate for notebook instance type %q", instanceType)
	}
	if seconds < 0 {
		return decimal.Zero, decimal.Zero, fmt.Errorf("notebook period of %d seconds is negative", seconds)
	}
	hour := decimal.NewFromInt(secondsPerHour)
	s := decimal.NewFromInt(seconds)
	return s.Mul(rate).DivRound(hour, usage.Scale), s.DivRound(hour, usage.Scale), nil
}

// JobUsage is what a lakeplane job used, as it reports when it ends.
type JobUsage struct {
	CPUSeconds   decimal.Decimal
	BytesRead    int64
	BytesWritten int64
}

// JobCost prices a lakeplane job: CPUSeconds × CPUHour / 3600 + (BytesRead
// + BytesWritten) × PerGBProcessed / 2^30, summed exactly and rounded once
// as for GlueRunCost.
func (p Prices) JobCost(u JobUsage) (decimal.Decimal, error) {
	if u.CPUSeconds.IsNegative() || u.BytesRead < 0 || u.BytesWritten < 0 {
		return decimal.Zero, fmt.Errorf("job usage is negative: %s CPU-seconds, %d bytes read, %d written", u.CPUSeconds, u.BytesRead, u.BytesWritten)
	}
	const bytesPerGB = 1 << 30
	hour, gb := decimal.NewFromInt(secondsPerHour), decimal.NewFromInt(bytesPerGB)
	cpu := u.CPUSeconds.Mul(p.CPUHour).Mul(gb)
	io := decimal.NewFromInt(u.BytesRead).Add(decimal.NewFromInt(u.BytesWritten)).Mul(p.PerGBProcessed).Mul(hour)
	return cpu.Add(io).DivRound(hour.Mul(gb), usage.Scale), nil
}
