package cost

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Kind is the kind of a savings recommendation.
type Kind string

// The kinds of recommendations.
const (
	// IdleNotebook is a SageMaker notebook instance in service with no
	// recorded activity for the idle threshold: stop it.
	IdleNotebook Kind = "IDLE_NOTEBOOK"
	// OverprovisionedJob is a Glue job whose runs mostly bill the minimum
	// (a Python shell job would do), or whose DPU-hours per GB processed
	// are far above its team's median (fewer workers, or Flex).
	OverprovisionedJob Kind = "OVERPROVISIONED_JOB"
	// FullScan is a dataset that is not partitioned and whose Athena
	// queries repeatedly scan most of it: partition it.
	FullScan Kind = "FULL_SCAN"
	// SmallFiles is a dataset of many small files: optimize (compact) it.
	SmallFiles Kind = "SMALL_FILES"
	// FailedRetries is a resource whose failed runs cost money: fix the
	// cause before retrying.
	FailedRetries Kind = "FAILED_RETRIES"
)

// Recommendation is a way to spend less, with what it would save.
type Recommendation struct {
	Kind Kind
	// Resource is what to act on: a usage resource ("glue:job/nightly",
	// "sagemaker:notebook/nb1") or a dataset ("sales.orders").
	Resource string
	// MonthlySaving is the estimated saving per month (730 hours), exact
	// decimal rounded to the cent, in Currency; always positive.
	MonthlySaving decimal.Decimal
	Currency      string
	// Action is what to do; Reason the evidence, from the usage.
	Action string
	Reason string
}

// DatasetLayout is how a dataset's data is stored, as far as the
// recommendations need it.
type DatasetLayout struct {
	// SizeBytes and Files are the size and the number of the data files of
	// the dataset's current snapshot.
	SizeBytes int64
	Files     int64
	// Partitioned is true when the dataset has a partition spec.
	Partitioned bool
}

// DatasetStats tells the recommendations the layout of a dataset. The
// integrator implements it from the dataset store (partition spec) and the
// tables catalog (tables.Catalog.Stats: FileCount, SizeBytes).
type DatasetStats interface {
	// DatasetLayout returns the layout of the dataset named as usage
	// records name it ("sales.orders"); ok is false when there is no such
	// dataset.
	DatasetLayout(ctx context.Context, dataset string) (layout DatasetLayout, ok bool, err error)
}

// NotebookStopper stops SageMaker notebook instances; the AWS integration
// implements it.
type NotebookStopper interface {
	// StopNotebookInstance stops the notebook instance of that name.
	StopNotebookInstance(ctx context.Context, name string) error
}

// The thresholds and assumptions of the recommendations.
const (
	// DefaultIdleHours is the idle threshold of notebooks when the request
	// names none.
	DefaultIdleHours = 24
	// RecommendLookBack is the usage the recommendations look at: the 30
	// days before the end of the report (or now).
	RecommendLookBack = 30 * 24 * time.Hour
	// monthHours is the length of the month savings are estimated for, as
	// AWS prices monthly.
	monthHours = 730
	// notebookFresh is how recent the last record of a notebook must be
	// for it to count as still in service: imports record whole days, so
	// a notebook imported daily has a record that ended within 48 hours.
	notebookFresh = 48 * time.Hour
	// minRuns is the fewest runs (queries) that make a pattern.
	minRuns = 3
	// overFactor is how far above its team's median a job's DPU-hours per
	// GB must be to be overprovisioned; minTeamJobs the fewest jobs with
	// a known GB processed that make a team's median.
	overFactor  = 4
	minTeamJobs = 3
	// fullScanShare is the share of a dataset that its Athena queries
	// must scan on average to be full scans, and fullScanSaving the share
	// of their cost that partitioning is assumed to save.
	fullScanShare  = 0.5
	fullScanSaving = "0.5"
	// smallFileBytes is the average file size below which a dataset of at
	// least minSmallFiles files has small files; smallFilesSaving is the
	// share of the cost of the work on it that compaction is assumed to
	// save (per-file overhead dominates reads of small files).
	smallFileBytes   = 32 << 20
	minSmallFiles    = 100
	smallFilesSaving = "0.25"
	// minFailures is the fewest failed runs of a resource that make a
	// FAILED_RETRIES recommendation.
	minFailures = 2
)

// failedStates are the "state" attributes of runs that failed and still
// cost money (Glue bills failed and timed-out runs).
var failedStates = []string{"FAILED", "TIMEOUT", "ERROR"}

// RecommendRequest chooses what the recommendations look at.
type RecommendRequest struct {
	// Start and End bound the usage looked at; End is now when zero, and
	// the window starts RecommendLookBack before End, or at Start when
	// that is later.
	Start, End time.Time
	// IdleHours is the idle threshold of notebooks; DefaultIdleHours when
	// 0.
	IdleHours float64
}

// window is the period recommendations look at, and the factor that turns
// its cost into a monthly one.
type window struct {
	start, end time.Time
	monthly    decimal.Decimal
	idle       time.Duration
}

// window resolves req against the clock.
func (s *Service) window(req RecommendRequest) (window, error) {
	if req.IdleHours == 0 {
		req.IdleHours = DefaultIdleHours
	}
	if !(req.IdleHours > 0) || math.IsInf(req.IdleHours, 0) || req.IdleHours > 24*366*10 {
		return window{}, fault.Invalid("idleHours", "%v is not a positive number of hours (at most ten years)", req.IdleHours)
	}
	w := window{end: req.End, idle: time.Duration(req.IdleHours * float64(time.Hour))}
	if w.end.IsZero() {
		w.end = s.parsing.Now()
	}
	w.end = w.end.UTC()
	w.start = w.end.Add(-RecommendLookBack)
	if req.Start.After(w.start) {
		w.start = req.Start.UTC()
	}
	if !w.end.After(w.start) {
		return window{}, fault.Invalid("endTime", "must be after startTime")
	}
	span := decimal.NewFromInt(int64(w.end.Sub(w.start) / time.Second))
	w.monthly = decimal.NewFromInt(monthHours * secondsPerHour).Div(span)
	return w, nil
}

// perMonth turns a cost over the window into an estimate per month,
// rounded to the cent.
func (w window) perMonth(c decimal.Decimal) decimal.Decimal {
	return c.Mul(w.monthly).Round(2)
}

// Recommend returns the savings recommendations for the usage in the
// window req chooses, most saving first (then by kind and resource). It
// aggregates in the store: a few grouped queries over the window, whatever
// the number of records. FULL_SCAN and SMALL_FILES need the service's
// DatasetStats, and are left out without it.
func (s *Service) Recommend(ctx context.Context, req RecommendRequest) ([]Recommendation, error) {
	w, err := s.window(req)
	if err != nil {
		return nil, err
	}
	var out []Recommendation
	for _, kind := range []func(context.Context, window) ([]Recommendation, error){
		s.idleNotebooks, s.overprovisionedJobs, s.fullScans, s.smallFiles, s.failedRetries,
	} {
		recs, err := kind(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("recommendations: %w", err)
		}
		out = append(out, recs...)
	}
	out = slices.DeleteFunc(out, func(r Recommendation) bool { return !r.MonthlySaving.IsPositive() })
	slices.SortFunc(out, compareRecommendations)
	return out, nil
}

// compareRecommendations orders recommendations most saving first, then
// by kind and resource.
func compareRecommendations(a, b Recommendation) int {
	if c := b.MonthlySaving.Cmp(a.MonthlySaving); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Resource, b.Resource))
}

// query is the store query of w's window, in the price table's currency.
func (s *Service) query(w window, by store.UsageGroupBy) store.UsageQuery {
	return store.UsageQuery{Start: w.start, End: w.end, Currency: s.parsing.Prices.Currency, GroupBy: by}
}

// IdleNotebookInfo is a notebook instance found idle.
type IdleNotebookInfo struct {
	// Name is the instance's name, Resource its usage resource.
	Name, Resource string
	InstanceType   string
	// IdleHours is the time since its last recorded activity.
	IdleHours float64
	// LastActivity is that activity's time.
	LastActivity  time.Time
	MonthlySaving decimal.Decimal
}

// notebookPrefix starts the resource of a SageMaker notebook's records.
const notebookPrefix = "sagemaker:notebook/"

// findIdleNotebooks returns the notebook instances in service with no
// recorded activity for w.idle, by resource.
//
// Activity is what the SageMaker records tell: an instance's last activity
// is the latest of its LastModifiedTime (the "inServiceSince" attribute
// that the ListNotebookInstances import records: when it was last started
// or updated) and of a "lastActivity" attribute (RFC 3339), which a finer
// source (Jupyter's last_activity, CloudWatch) may record. An instance is
// in service when its latest record ended within 48 hours of the window's
// end (imports record whole days in service). One without any activity
// recorded in the window is idle since the window's start.
func (s *Service) findIdleNotebooks(ctx context.Context, w window) ([]IdleNotebookInfo, error) {
	acts, err := s.store.ListNotebookActivity(ctx, s.query(w, ""))
	if err != nil {
		return nil, err
	}
	var out []IdleNotebookInfo
	for _, a := range acts {
		if a.LastEnd.Before(w.end.Add(-notebookFresh)) {
			continue // stopped, or not imported lately
		}
		last := a.InServiceSince
		if a.LastActivity.After(last) {
			last = a.LastActivity
		}
		if last.Before(w.start) {
			last = w.start
		}
		idle := w.end.Sub(last)
		if idle < w.idle {
			continue
		}
		saving := w.perMonth(a.Cost)
		if rate, ok := s.parsing.Prices.NotebookHourly[a.InstanceType]; ok {
			saving = rate.Mul(decimal.NewFromInt(monthHours)).Round(2)
		}
		out = append(out, IdleNotebookInfo{
			Name: strings.TrimPrefix(a.Resource, notebookPrefix), Resource: a.Resource, InstanceType: a.InstanceType,
			IdleHours: math.Round(idle.Hours()*100) / 100, LastActivity: last, MonthlySaving: saving,
		})
	}
	return out, nil
}

// idleNotebooks recommends stopping the idle notebooks; a stopped
// instance costs nothing, so the saving is its hourly rate for a month
// (or, for a type the price table lacks, its recorded cost per month).
func (s *Service) idleNotebooks(ctx context.Context, w window) ([]Recommendation, error) {
	idle, err := s.findIdleNotebooks(ctx, w)
	if err != nil {
		return nil, err
	}
	out := make([]Recommendation, 0, len(idle))
	for _, n := range idle {
		out = append(out, Recommendation{
			Kind: IdleNotebook, Resource: n.Resource, MonthlySaving: n.MonthlySaving, Currency: s.parsing.Prices.Currency,
			Action: fmt.Sprintf("Stop notebook instance %s (StopIdleNotebooks), and give it a lifecycle configuration that stops it when idle", n.Name),
			Reason: fmt.Sprintf("in service (%s) with no recorded activity for %.1f hours, since %s", cmpOr(n.InstanceType, "unknown type"),
				n.IdleHours, n.LastActivity.Format(time.RFC3339)),
		})
	}
	return out, nil
}

// overprovisionedJobs recommends resizing Glue jobs: those whose runs
// mostly (more than half) finish within the billing minimum, which a
// Python shell job at 1 DPU would run for less (saving: the cost of those
// runs less what they would cost as Python shell runs); and those whose
// DPU-hours per GB processed are more than 4 times their team's median
// (saving: the cost above what the median would cost). GB processed is the
// runs' bytesRead and bytesWritten attributes when every run has them,
// else the size of the job's dataset (DatasetStats) per run.
func (s *Service) overprovisionedJobs(ctx context.Context, w window) ([]Recommendation, error) {
	p := s.parsing.Prices
	profiles, err := s.store.ProfileUsage(ctx, store.UsageProfileQuery{
		UsageQuery: s.query(w, store.GroupByResource), Source: usage.GlueJobRun, ShortSeconds: p.GlueMinimumSeconds,
	})
	if err != nil {
		return nil, err
	}
	// A Python shell run at 1 DPU for the minimum.
	shellRun := p.GluePythonShellDPUHour.Mul(decimal.NewFromInt(p.GlueMinimumSeconds)).Div(decimal.NewFromInt(secondsPerHour))
	best := map[string]Recommendation{}
	offer := func(r Recommendation) {
		if r.MonthlySaving.IsPositive() && r.MonthlySaving.GreaterThan(best[r.Resource].MonthlySaving) {
			best[r.Resource] = r
		}
	}
	type ratio struct {
		profile     store.UsageProfile
		dpuHoursPer float64
	}
	teams := map[string][]ratio{}
	for _, pr := range profiles {
		if pr.Records < minRuns {
			continue
		}
		if pr.Short*2 > pr.Records {
			saving := pr.ShortCost.Sub(shellRun.Mul(decimal.NewFromInt(pr.Short)))
			offer(Recommendation{
				Kind: OverprovisionedJob, Resource: pr.Key, MonthlySaving: w.perMonth(saving), Currency: p.Currency,
				Action: "Run it as a Python shell job (MaxCapacity 0.0625 or 1 DPU): its runs finish within the billing minimum, with Spark's DPUs idle",
				Reason: fmt.Sprintf("%d of its %d runs billed the %d-second minimum", pr.Short, pr.Records, p.GlueMinimumSeconds),
			})
		}
		gb, err := s.gbProcessed(ctx, pr)
		if err != nil {
			return nil, err
		}
		if gb > 0 && pr.Quantity > 0 {
			teams[pr.Team] = append(teams[pr.Team], ratio{pr, pr.Quantity / gb})
		}
	}
	for team, jobs := range teams {
		if len(jobs) < minTeamJobs {
			continue
		}
		per := make([]float64, len(jobs))
		for i, j := range jobs {
			per[i] = j.dpuHoursPer
		}
		median := medianOf(per)
		for _, j := range jobs {
			if !(j.dpuHoursPer > overFactor*median) {
				continue
			}
			// At the median, the job would cost median/ratio of what it did.
			keep := decimal.NewFromFloat(median / j.dpuHoursPer)
			offer(Recommendation{
				Kind: OverprovisionedJob, Resource: j.profile.Key, MonthlySaving: w.perMonth(j.profile.Cost.Mul(decimal.NewFromInt(1).Sub(keep))),
				Currency: p.Currency,
				Action:   "Give it fewer or smaller workers (or Python shell for small inputs), and the FLEX execution class if it is not urgent",
				Reason: fmt.Sprintf("%.4g DPU-hours per GB processed, %.1f times the median of team %q (%.4g)",
					j.dpuHoursPer, j.dpuHoursPer/median, team, median),
			})
		}
	}
	out := make([]Recommendation, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	return out, nil
}

// gbProcessed returns the gigabytes a job's runs processed, 0 when
// unknown.
func (s *Service) gbProcessed(ctx context.Context, pr store.UsageProfile) (float64, error) {
	const gb = 1 << 30
	if pr.BytesRecords == pr.Records && pr.BytesProcessed > 0 {
		return pr.BytesProcessed / gb, nil
	}
	if s.datasets == nil || pr.Dataset == "" {
		return 0, nil
	}
	l, ok, err := s.layout(ctx, pr.Dataset)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil
	}
	return float64(l.SizeBytes) * float64(pr.Records) / gb, nil
}

// layout returns the layout of a dataset from the service's DatasetStats.
func (s *Service) layout(ctx context.Context, dataset string) (DatasetLayout, bool, error) {
	l, ok, err := s.datasets.DatasetLayout(ctx, dataset)
	if err != nil {
		return DatasetLayout{}, false, fmt.Errorf("layout of dataset %q: %w", dataset, err)
	}
	return l, ok, nil
}

// medianOf returns the median of v, which it sorts.
func medianOf(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// fullScans recommends partitioning the datasets that are not partitioned
// and whose Athena queries (records naming the dataset) at least 3 times
// scanned on average at least half of it; partitioning is assumed to save
// half of those queries' cost.
func (s *Service) fullScans(ctx context.Context, w window) ([]Recommendation, error) {
	if s.datasets == nil {
		return nil, nil
	}
	profiles, err := s.store.ProfileUsage(ctx, store.UsageProfileQuery{
		UsageQuery: s.query(w, store.GroupByDataset), Source: usage.AthenaQuery,
	})
	if err != nil {
		return nil, err
	}
	var out []Recommendation
	for _, pr := range profiles {
		if pr.Key == "" || pr.Records < minRuns {
			continue
		}
		l, ok, err := s.layout(ctx, pr.Key)
		if err != nil {
			return nil, err
		}
		if !ok || l.Partitioned || l.SizeBytes <= 0 {
			continue
		}
		avg := pr.Quantity / float64(pr.Records)
		if avg < fullScanShare*float64(l.SizeBytes) {
			continue
		}
		out = append(out, Recommendation{
			Kind: FullScan, Resource: pr.Key, Currency: s.parsing.Prices.Currency,
			MonthlySaving: w.perMonth(pr.Cost.Mul(decimal.RequireFromString(fullScanSaving))),
			Action:        fmt.Sprintf("Partition %s by the column its queries filter on (a date, a region), so that they read only the partitions they need", pr.Key),
			Reason: fmt.Sprintf("%d Athena queries scanned on average %.0f%% of it (%s of %s), and it is not partitioned",
				pr.Records, 100*avg/float64(l.SizeBytes), formatBytes(avg), formatBytes(float64(l.SizeBytes))),
		})
	}
	return out, nil
}

// smallFiles recommends optimizing (compacting) the datasets of at least
// 100 files averaging under 32 MiB; compaction is assumed to save a quarter
// of the cost of the work recorded on the dataset.
func (s *Service) smallFiles(ctx context.Context, w window) ([]Recommendation, error) {
	if s.datasets == nil {
		return nil, nil
	}
	sums, err := s.store.SumUsage(ctx, s.query(w, store.GroupByDataset))
	if err != nil {
		return nil, err
	}
	var out []Recommendation
	for _, g := range sums {
		if g.Key == "" || !g.Cost.IsPositive() {
			continue
		}
		l, ok, err := s.layout(ctx, g.Key)
		if err != nil {
			return nil, err
		}
		if !ok || l.Files < minSmallFiles || l.SizeBytes/l.Files >= smallFileBytes {
			continue
		}
		out = append(out, Recommendation{
			Kind: SmallFiles, Resource: g.Key, Currency: s.parsing.Prices.Currency,
			MonthlySaving: w.perMonth(g.Cost.Mul(decimal.RequireFromString(smallFilesSaving))),
			Action:        fmt.Sprintf("Optimize %s: compact its files to about 128 MiB each, and batch the writes that make small files", g.Key),
			Reason: fmt.Sprintf("%d files averaging %s; %d usage records on it cost %s %s in the window",
				l.Files, formatBytes(float64(l.SizeBytes)/float64(l.Files)), g.Records, g.Cost.StringFixed(2), s.parsing.Prices.Currency),
		})
	}
	return out, nil
}

// failedRetries recommends fixing the resources whose runs failed at least
// twice at a cost: the saving is what the failed runs cost.
func (s *Service) failedRetries(ctx context.Context, w window) ([]Recommendation, error) {
	profiles, err := s.store.ProfileUsage(ctx, store.UsageProfileQuery{
		UsageQuery: s.query(w, store.GroupByResource), FailedStates: failedStates,
	})
	if err != nil {
		return nil, err
	}
	var out []Recommendation
	for _, pr := range profiles {
		if pr.Failed < minFailures || !pr.FailedCost.IsPositive() {
			continue
		}
		out = append(out, Recommendation{
			Kind: FailedRetries, Resource: pr.Key, Currency: s.parsing.Prices.Currency,
			MonthlySaving: w.perMonth(pr.FailedCost),
			Action:        "Fix the cause of the failures before running it again: read the failed runs' errors, validate inputs first, and alert on the first failure instead of retrying",
			Reason: fmt.Sprintf("%d of its %d runs failed, costing %s %s in the window",
				pr.Failed, pr.Records, pr.FailedCost.StringFixed(2), s.parsing.Prices.Currency),
		})
	}
	return out, nil
}

// formatBytes renders a byte count in binary units.
func formatBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

// StopIdleRequest chooses the notebooks StopIdleNotebooks stops.
type StopIdleRequest struct {
	// IdleHours is the idle threshold; DefaultIdleHours when 0.
	IdleHours float64
	// DryRun lists the notebooks without stopping them.
	DryRun bool
}

// StoppedNotebook is a notebook StopIdleNotebooks found idle.
type StoppedNotebook struct {
	IdleNotebookInfo
	// Stopped is true when it was stopped (never on a dry run).
	Stopped bool
}

// StopIdleNotebooks finds the notebook instances idle for req.IdleHours
// (see findIdleNotebooks) as of now, and stops them unless req.DryRun.
// Stopping needs a NotebookStopper (the AWS integration): without one, a
// request that is not a dry run fails with fault.ErrFailedPrecondition.
func (s *Service) StopIdleNotebooks(ctx context.Context, req StopIdleRequest) ([]StoppedNotebook, error) {
	if !req.DryRun && s.stopper == nil {
		return nil, fault.Precondition("stopping notebook instances needs the AWS integration, which is not configured; use dryRun to list the idle ones")
	}
	w, err := s.window(RecommendRequest{IdleHours: req.IdleHours})
	if err != nil {
		return nil, err
	}
	idle, err := s.findIdleNotebooks(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("stop idle notebooks: %w", err)
	}
	slices.SortFunc(idle, func(a, b IdleNotebookInfo) int {
		return cmp.Or(b.MonthlySaving.Cmp(a.MonthlySaving), cmp.Compare(a.Name, b.Name))
	})
	out := make([]StoppedNotebook, 0, len(idle))
	for _, n := range idle {
		sn := StoppedNotebook{IdleNotebookInfo: n}
		if !req.DryRun {
			if err := s.stopper.StopNotebookInstance(ctx, n.Name); err != nil {
				return nil, fmt.Errorf("stop notebook instance %s: %w", n.Name, err)
			}
			sn.Stopped = true
		}
		out = append(out, sn)
	}
	return out, nil
}
