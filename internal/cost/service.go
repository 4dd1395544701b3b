// Package cost prices the usage of every lakeplane job, Glue job run, Athena
// query and SageMaker notebook, imports AWS usage (Cost and Usage Reports
// and JSON-lines exports of the Glue, Athena and SageMaker APIs) from the
// object store, and reports cost for a period: the total, the items grouped
// by resource, team, dataset, source or service, the Pareto cut and the
// monthly trend.
//
// Money is exact decimal, never float: prices are a table of decimal rates
// (Prices, data from the configuration), and costs are rounded once, half
// away from zero, to usage.Scale fraction digits. The store sums costs in
// SQL, so a report never loads the usage records themselves.
//
// Service is plain Go over a store.Usage and an objects.Store; Handler
// serves it as lakeplanev1.CostReportServiceServer.
package cost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Service records, imports and reports usage and its cost.
type Service struct {
	store    store.Usage
	objects  objects.Store
	parsing  Parsing
	datasets DatasetStats
	stopper  NotebookStopper
}

// Deps are what a Service needs.
type Deps struct {
	// Store keeps the usage records.
	Store store.Usage
	// Objects reads the files ImportUsage names.
	Objects objects.Store
	// Prices is the price table; its zero value means DefaultPrices.
	Prices Prices
	// TeamTag and DatasetTag are the user tags that name a CUR line
	// item's team and dataset; "team" and "dataset" when empty.
	TeamTag, DatasetTag string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Datasets tells the recommendations the layout of datasets; without
	// it there are no FULL_SCAN and SMALL_FILES recommendations.
	Datasets DatasetStats
	// Notebooks stops notebook instances (the AWS integration); without
	// it StopIdleNotebooks only lists them (dry runs).
	Notebooks NotebookStopper
}

// NewService returns a Service on d, or an error when its prices are not
// valid.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil {
		return nil, errors.New("cost: no usage store")
	}
	if d.Prices.Currency == "" {
		d.Prices = DefaultPrices()
	}
	if err := d.Prices.Validate(); err != nil {
		return nil, fmt.Errorf("cost: %w", err)
	}
	p := Parsing{Prices: d.Prices, TeamTag: cmpOr(d.TeamTag, "team"), DatasetTag: cmpOr(d.DatasetTag, "dataset"), Now: d.Now}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &Service{store: d.Store, objects: d.Objects, parsing: p, datasets: d.Datasets, stopper: d.Notebooks}, nil
}

// Prices returns the service's price table.
func (s *Service) Prices() Prices { return s.parsing.Prices }

// Record stores one usage record and returns it as stored. When price is
// true its cost is priced from the price table (see PriceRecord) and its
// currency set to the table's. A record without an ID gets a new one;
// recording a record whose ID is stored already returns the stored one
// unchanged.
func (s *Service) Record(ctx context.Context, r *usage.Record, price bool) (*usage.Record, error) {
	r = r.Clone()
	if r.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("record usage: new id: %w", err)
		}
		r.ID = "usage:" + id.String()
	}
	if price {
		c, err := s.parsing.Prices.PriceRecord(r)
		if err != nil {
			return nil, fault.Invalid("usageRecord.cost", "is empty, and %v", err)
		}
		r.Cost, r.Currency = c, s.parsing.Prices.Currency
	}
	if r.Currency == "" {
		r.Currency = s.parsing.Prices.Currency
	}
	if err := r.Validate(); err != nil {
		var fe *fault.FieldError
		if errors.As(err, &fe) {
			return nil, fault.Invalid("usageRecord."+fe.Field, "%s", fe.Reason)
		}
		return nil, err
	}
	if !usage.RoundMoney(r.Cost).Equal(r.Cost) {
		return nil, fault.Invalid("usageRecord.cost", "%s has more than %d fraction digits", r.Cost, usage.Scale)
	}
	r.Normalize()
	if _, err := s.store.InsertUsage(ctx, []*usage.Record{r}); err != nil {
		return nil, fmt.Errorf("record usage %q: %w", r.ID, err)
	}
	return s.store.GetUsage(ctx, r.ID)
}

// PriceRecord prices a usage record from its quantity and unit: DPU-hours
// at the Glue rate (Flex when the attribute executionClass is FLEX),
// bytes-scanned as one Athena query, instance-hours at the hourly rate of
// the attribute instanceType, and cpu-seconds as a lakeplane job (with the
// attributes bytesRead and bytesWritten).
func (p Prices) PriceRecord(r *usage.Record) (decimal.Decimal, error) {
	switch r.Unit {
	case usage.UnitDPUHours:
		rate := p.GlueRate(GlueJobRun{ExecutionClass: r.Attributes["executionClass"]})
		return r.Quantity.Mul(rate).Round(usage.Scale), nil
	case usage.UnitBytesScanned:
		if !r.Quantity.IsInteger() {
			return decimal.Zero, fmt.Errorf("bytes scanned %s is not a whole number", r.Quantity)
		}
		return p.AthenaQueryCost(AthenaQuery{ID: r.ID, DataScannedInBytes: r.Quantity.IntPart(),
			State: r.Attributes["state"], StatementType: r.Attributes["statementType"]})
	case usage.UnitInstanceHours:
		rate, ok := p.NotebookHourly[r.Attributes["instanceType"]]
		if !ok {
			return decimal.Zero, fmt.Errorf("no hourly rate for instance type %q (attribute instanceType)", r.Attributes["instanceType"])
		}
		return r.Quantity.Mul(rate).Round(usage.Scale), nil
	case usage.UnitCPUSeconds:
		u := JobUsage{CPUSeconds: r.Quantity}
		for name, dst := range map[string]*int64{"bytesRead": &u.BytesRead, "bytesWritten": &u.BytesWritten} {
			if v := r.Attributes[name]; v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return decimal.Zero, fmt.Errorf("attribute %s %q is not a whole number", name, v)
				}
				*dst = n
			}
		}
		return p.JobCost(u)
	}
	return decimal.Zero, fmt.Errorf("unit %q has no rate (want %s, %s, %s or %s)", r.Unit,
		usage.UnitDPUHours, usage.UnitBytesScanned, usage.UnitInstanceHours, usage.UnitCPUSeconds)
}

// JobRun is what a lakeplane job reports when it ends, for RecordJob.
type JobRun struct {
	// JobID is the job's id; it keys the record, so that reporting a job
	// twice records it once.
	JobID   string
	Kind    string
	Dataset string
	Team    string
	Start   time.Time
	End     time.Time
	Usage   JobUsage
}

// RecordJob records the usage of a lakeplane job that ended, priced at the
// table's CPU and per-GB rates. The job runner calls it when a job ends.
func (s *Service) RecordJob(ctx context.Context, j JobRun) (*usage.Record, error) {
	if j.JobID == "" {
		return nil, errors.New("record job usage: no job id")
	}
	c, err := s.parsing.Prices.JobCost(j.Usage)
	if err != nil {
		return nil, fmt.Errorf("record usage of job %q: %w", j.JobID, err)
	}
	r := &usage.Record{
		ID:        "lakeplane:job/" + j.JobID,
		Source:    usage.LakeplaneJob,
		Resource:  "lakeplane:" + cmpOr(j.Kind, "job") + "/" + j.Dataset,
		Dataset:   j.Dataset,
		Team:      j.Team,
		Service:   "lakeplane",
		StartTime: j.Start, EndTime: j.End,
		Quantity: j.Usage.CPUSeconds, Unit: usage.UnitCPUSeconds,
		Cost: c, Currency: s.parsing.Prices.Currency,
		Attributes: map[string]string{
			"jobId":           j.JobID,
			"bytesRead":       strconv.FormatInt(j.Usage.BytesRead, 10),
			"bytesWritten":    strconv.FormatInt(j.Usage.BytesWritten, 10),
			"durationSeconds": decimal.NewFromFloat(j.End.Sub(j.Start).Seconds()).String(),
		},
	}
	if j.Kind != "" {
		r.Attributes["kind"] = j.Kind
	}
	return s.Record(ctx, r, false)
}

// ImportRequest names a file of usage data to import.
type ImportRequest struct {
	Format Format
	URI    string
	// SkipMalformed skips malformed lines, reporting them, instead of
	// failing the import.
	SkipMalformed bool
}

// ImportResult counts what an import did.
type ImportResult struct {
	// Imported is the number of records stored.
	Imported int64
	// Skipped is the number of records stored before (by an earlier
	// import), of malformed lines skipped, and of lines with nothing to
	// record yet (runs still running, notebooks not in service).
	Skipped int64
	// Errors are the malformed lines skipped, the first MaxImportErrors.
	Errors []LineError
}

// LineError is a malformed line of an import.
type LineError struct {
	URI     string
	Line    int64
	Message string
}

// MaxImportErrors is the most malformed lines an ImportResult lists; the
// others are counted in Skipped only.
const MaxImportErrors = 100

// importBatch is the number of records an import stores per transaction.
const importBatch = 500

// Import reads the usage records of the file req names, streaming, and
// stores those not stored before. A malformed line fails the import with
// an error naming its line (a fault.FieldError of field "uri" whose Row is
// the line), before anything is stored, unless req.SkipMalformed: then it
// is skipped and listed. Records are stored in batches; if the import fails
// midway (the store, or a file changed under it), importing the file again
// stores what is missing and nothing twice.
func (s *Service) Import(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	if req.URI == "" {
		return nil, fault.Invalid("uri", "is required")
	}
	if s.objects == nil {
		return nil, errors.New("import usage: no object store configured")
	}
	parse, err := s.parsing.parser(req.Format)
	if err != nil {
		return nil, fault.Invalid("source", "%v", err)
	}
	if !req.SkipMalformed {
		// A first pass finds malformed lines before anything is stored.
		err := s.read(ctx, req.URI, req.Format, parse, func(it item) error {
			if it.err != nil {
				return &fault.FieldError{Field: "uri", Row: it.line, Reason: fmt.Sprintf("%s line %d: %v", req.URI, it.line, it.err)}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	res := &ImportResult{}
	var batch []*usage.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := s.store.InsertUsage(ctx, batch)
		if err != nil {
			return fmt.Errorf("import usage from %s: %w", req.URI, err)
		}
		res.Imported += int64(n)
		res.Skipped += int64(len(batch) - n)
		batch = batch[:0]
		return nil
	}
	err = s.read(ctx, req.URI, req.Format, parse, func(it item) error {
		if it.err != nil {
			if !req.SkipMalformed {
				return &fault.FieldError{Field: "uri", Row: it.line, Reason: fmt.Sprintf("%s line %d (changed during the import): %v", req.URI, it.line, it.err)}
			}
			res.Skipped++
			if len(res.Errors) < MaxImportErrors {
				res.Errors = append(res.Errors, LineError{URI: req.URI, Line: it.line, Message: it.err.Error()})
			}
			return nil
		}
		if len(it.records) == 0 {
			res.Skipped++
			return nil
		}
		for _, r := range it.records {
			if !r.Cost.Equal(usage.RoundMoney(r.Cost)) {
				if r.Attributes == nil {
					r.Attributes = map[string]string{}
				}
				r.Attributes["unroundedCost"] = r.Cost.String()
			}
			r.Normalize()
			batch = append(batch, r)
		}
		if len(batch) >= importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// read streams the object at uri, decompressed, through parse, calling
// yield with each item. A Parquet file (named *.parquet, or starting with
// the PAR1 magic) is read at random through range Gets instead, by the
// Parquet reader of CUR, the one format that has one.
func (s *Service) read(ctx context.Context, uri string, format Format, parse parser, yield func(item) error) error {
	if isParquetName(uri) {
		return s.readParquet(ctx, uri, format, nil, yield)
	}
	body, info, err := s.objects.Get(ctx, uri, nil)
	if err != nil {
		return fmt.Errorf("import usage: %w", err)
	}
	r, closeR, err := decompress(body)
	if errors.Is(err, errParquet) {
		// Only the first bytes were read: Parquet is read from its end.
		body.Close()
		return s.readParquet(ctx, uri, format, &info, yield)
	}
	defer body.Close()
	if err != nil {
		return fmt.Errorf("import usage: read %s: %w", uri, err)
	}
	defer closeR()
	if err := parse(ctx, r, yield); err != nil {
		var fe *fault.FieldError
		if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("import usage: read %s: %w", uri, err)
	}
	return nil
}

// isParquetName reports whether uri names a Parquet file by its extension.
func isParquetName(uri string) bool {
	return strings.HasSuffix(strings.ToLower(uri), ".parquet")
}

// readParquet reads the Parquet file at uri, whose Info is info (nil when
// not known yet), as format, through an objectReader. What is wrong with
// the file (not Parquet, damaged, not a CUR) is a fault.Invalid of field
// "uri" naming it; the store's errors are returned as they are.
func (s *Service) readParquet(ctx context.Context, uri string, format Format, info *objects.Info, yield func(item) error) error {
	if format != FormatCUR {
		return fault.Invalid("uri", "%s is a Parquet file: %v", uri, errNotCURParquet)
	}
	ra, err := newObjectReader(ctx, s.objects, uri, info)
	if err != nil {
		return fmt.Errorf("import usage: %w", err)
	}
	err = s.parsing.parseCURParquet(ctx, ra, yield)
	var fe *fault.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case ra.failure() != nil:
		return fmt.Errorf("import usage: read %s: %w", uri, ra.failure())
	}
	return fault.Invalid("uri", "%s: %v", uri, err)
}

// ReportRequest chooses the period and the cut of a report.
type ReportRequest struct {
	// Start and End bound the usage's start time: Start <= start < End;
	// a zero bound leaves that side open.
	Start, End time.Time
	// GroupBy is the field items group by; GroupByResource when empty.
	GroupBy store.UsageGroupBy
	// ParetoThreshold is the share of cost the Pareto cut reaches, in
	// (0, 1]; DefaultParetoThreshold when 0.
	ParetoThreshold float64
}

// Report reports the cost of a period, in the price table's currency;
// the store sums it. Its recommendations look at the last 30 days of the
// period (see Recommend), with the default idle threshold.
func (s *Service) Report(ctx context.Context, req ReportRequest) (*Report, error) {
	if req.GroupBy == "" {
		req.GroupBy = store.GroupByResource
	}
	if !slices.Contains(store.UsageGroupBys, req.GroupBy) {
		return nil, fault.Invalid("groupBy", "%q is not one of resource, team, dataset, source, service", req.GroupBy)
	}
	if req.ParetoThreshold == 0 {
		req.ParetoThreshold = DefaultParetoThreshold
	}
	if !(req.ParetoThreshold > 0 && req.ParetoThreshold <= 1) {
		return nil, fault.Invalid("paretoThreshold", "%v is not in (0, 1]", req.ParetoThreshold)
	}
	if !req.Start.IsZero() && !req.End.IsZero() && !req.End.After(req.Start) {
		return nil, fault.Invalid("endTime", "must be after startTime")
	}
	q := store.UsageQuery{Start: req.Start, End: req.End, Currency: s.parsing.Prices.Currency, GroupBy: req.GroupBy}
	groups, err := s.store.SumUsage(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("cost report: %w", err)
	}
	months, err := s.store.SumUsageByMonth(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("cost report: %w", err)
	}
	rep, err := BuildReport(q.Currency, groups, months, req.ParetoThreshold)
	if err != nil {
		return nil, err
	}
	end := req.End
	if end.IsZero() {
		end = s.parsing.Now()
	}
	if req.Start.IsZero() || end.After(req.Start) {
		// A period that starts after now has nothing to recommend on.
		if rep.Recommendations, err = s.Recommend(ctx, RecommendRequest{Start: req.Start, End: end}); err != nil {
			return nil, fmt.Errorf("cost report: %w", err)
		}
	}
	return rep, nil
}
