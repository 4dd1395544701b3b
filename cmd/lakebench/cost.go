package main

// The cost benchmark:
//
//	go run ./cmd/lakebench cost [--records N] [--resources N] [--postgres-dsn DSN]
//
// It loads synthetic usage records (two years, long-tailed costs over the
// resources) into a fresh SQLite store in a temporary directory, and into a
// fresh schema of the PostgreSQL database that --postgres-dsn (or
// LAKEPLANE_TEST_POSTGRES_DSN) names, dropped afterwards; then it times
// GetCostReport grouped by resource, with its Pareto cut, monthly trend and
// recommendations, as the gRPC handler serves it.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/cost"
	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/postgres"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// costBenchEnd is the end of the synthetic usage: it spans the two years
// before it.
var costBenchEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// costBench runs the cost benchmark.
func costBench(args []string) error {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	records := fs.Int("records", 1_000_000, "usage records to load")
	resources := fs.Int("resources", 2_000, "distinct resources")
	runs := fs.Int("runs", 5, "timed GetCostReport calls (the best and the median are printed)")
	dsn := fs.String("postgres-dsn", os.Getenv("LAKEPLANE_TEST_POSTGRES_DSN"), "PostgreSQL database to bench in a fresh schema (default $LAKEPLANE_TEST_POSTGRES_DSN); SQLite only when empty")
	dir := fs.String("dir", "", "directory of the SQLite database, kept (default: a temporary one, removed afterwards)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *records <= 0 || *resources <= 0 || *runs <= 0 {
		return errors.New("cost: --records, --resources and --runs must be positive")
	}
	ctx := context.Background()
	tmp := *dir
	if tmp == "" {
		t, err := os.MkdirTemp("", "lakebench-cost-")
		if err != nil {
			return fmt.Errorf("cost: %w", err)
		}
		defer os.RemoveAll(t)
		tmp = t
	} else if err := os.MkdirAll(tmp, 0o750); err != nil {
		return fmt.Errorf("cost: %w", err)
	}
	fmt.Printf("%d usage records over two years, %d resources\n", *records, *resources)

	sq, err := sqlite.Open(ctx, filepath.Join(tmp, "lakeplane.db"))
	if err != nil {
		return fmt.Errorf("cost: open sqlite: %w", err)
	}
	defer sq.Close()
	if err := benchStore(ctx, "sqlite", sq, *records, *resources, *runs); err != nil {
		return err
	}
	if *dsn == "" {
		fmt.Println("postgres: skipped (set --postgres-dsn or LAKEPLANE_TEST_POSTGRES_DSN)")
		return nil
	}
	return withFreshSchema(ctx, *dsn, func(schemaDSN string) error {
		pg, err := postgres.Open(ctx, schemaDSN)
		if err != nil {
			return fmt.Errorf("cost: open postgres: %w", err)
		}
		defer pg.Close()
		return benchStore(ctx, "postgres", pg, *records, *resources, *runs)
	})
}

// benchStore loads the records into st and times the report on it.
func benchStore(ctx context.Context, name string, st store.Usage, records, resources, runs int) error {
	gen := newUsageGen(resources)
	const batch = 5000
	start := time.Now()
	recs := make([]*usage.Record, 0, batch)
	for i := range records {
		recs = append(recs, gen.record(i, records))
		if len(recs) == batch || i == records-1 {
			n, err := st.InsertUsage(ctx, recs)
			if err != nil {
				return fmt.Errorf("cost: %s: insert: %w", name, err)
			}
			if n != len(recs) {
				return fmt.Errorf("cost: %s: inserted %d of %d records", name, n, len(recs))
			}
			recs = recs[:0]
		}
	}
	load := time.Since(start)
	fmt.Printf("%s: inserted %d records in %v: %.0f records/s\n", name, records, load.Round(time.Millisecond), float64(records)/load.Seconds())
	if db, ok := st.(interface{ DB() *sql.DB }); ok && name == "postgres" {
		// What autovacuum does after a bulk load, now rather than later:
		// statistics for the planner, and the visibility map that lets
		// reports scan the covering indexes alone.
		t0 := time.Now()
		if _, err := db.DB().ExecContext(ctx, "VACUUM ANALYZE usage_records"); err != nil {
			return fmt.Errorf("cost: %s: vacuum: %w", name, err)
		}
		fmt.Printf("%s: VACUUM ANALYZE in %v\n", name, time.Since(t0).Round(time.Millisecond))
	}

	svc, err := cost.NewService(cost.Deps{Store: st, Now: func() time.Time { return costBenchEnd }})
	if err != nil {
		return fmt.Errorf("cost: %w", err)
	}
	h := cost.NewHandler(svc)
	req := &lakeplanev1.GetCostReportRequest{
		StartTime: timestamppb.New(costBenchEnd.AddDate(-2, 0, 0)), EndTime: timestamppb.New(costBenchEnd),
		GroupBy: string(store.GroupByResource),
	}
	var times []time.Duration
	var rep *lakeplanev1.GetCostReportResponse
	for range runs {
		t0 := time.Now()
		rep, err = h.GetCostReport(ctx, req)
		if err != nil {
			return fmt.Errorf("cost: %s: GetCostReport: %w", name, err)
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	// Where the time goes: the report's three parts, once each.
	q := store.UsageQuery{Start: req.GetStartTime().AsTime(), End: costBenchEnd, Currency: "USD", GroupBy: store.GroupByResource}
	parts := []struct {
		what string
		run  func() error
	}{
		{"sum by resource", func() error { _, err := st.SumUsage(ctx, q); return err }},
		{"sum by month", func() error { _, err := st.SumUsageByMonth(ctx, q); return err }},
		{"recommendations", func() error { _, err := svc.Recommend(ctx, cost.RecommendRequest{End: costBenchEnd}); return err }},
	}
	var split []string
	for _, p := range parts {
		t0 := time.Now()
		if err := p.run(); err != nil {
			return fmt.Errorf("cost: %s: %s: %w", name, p.what, err)
		}
		split = append(split, fmt.Sprintf("%s %v", p.what, time.Since(t0).Round(time.Millisecond)))
	}
	fmt.Printf("%s: GetCostReport by resource: best %v, median %v of %d (total %s %s, %d items, Pareto %d items = %.1f%% of them for %.1f%% of cost, %d months, %d recommendations)\n",
		name, times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), runs,
		rep.GetTotal(), rep.GetCurrency(), len(rep.GetItems()), len(rep.GetPareto().GetTopItems()),
		100*rep.GetPareto().GetItemsFraction(), 100*rep.GetPareto().GetCostFraction(), len(rep.GetTrend()), len(rep.GetRecommendations()))
	fmt.Printf("%s: of which %s\n", name, strings.Join(split, ", "))
	return nil
}

// usageGen makes synthetic usage records: resource r carries a weight of
// 1/(r+1)^1.2 (a long tail: a few resources make most of the cost), each
// record's cost is its resource's scale times a log-normal factor, and
// sources, teams and datasets follow the resource.
type usageGen struct {
	rnd       *mrand.Rand
	resources int
	// cum is the cumulative weight of resources, for picking one.
	cum []float64
}

// newUsageGen returns a deterministic generator over n resources.
func newUsageGen(n int) *usageGen {
	g := &usageGen{rnd: mrand.New(mrand.NewPCG(1, 2)), resources: n, cum: make([]float64, n)}
	total := 0.0
	for i := range n {
		total += 1 / math.Pow(float64(i+1), 1.2)
		g.cum[i] = total
	}
	for i := range g.cum {
		g.cum[i] /= total
	}
	return g
}

// record returns the i-th of n records, spread evenly over the two years.
func (g *usageGen) record(i, n int) *usage.Record {
	r, _ := slices.BinarySearch(g.cum, g.rnd.Float64())
	r = min(r, g.resources-1)
	span := costBenchEnd.Sub(costBenchEnd.AddDate(-2, 0, 0))
	start := costBenchEnd.Add(-span + time.Duration(float64(span)*float64(i)/float64(n))).Truncate(time.Second)
	// About $2 a record, log-normal around it.
	nanos := int64(2e9 * math.Exp(g.rnd.NormFloat64()))
	rec := &usage.Record{
		ID:        "bench:" + strconv.Itoa(i),
		Team:      "team-" + strconv.Itoa(r%20),
		Dataset:   "ns" + strconv.Itoa(r%30) + ".table" + strconv.Itoa(r%300),
		StartTime: start,
		Cost:      decimal.New(nanos, -usage.Scale),
		Currency:  "USD",
	}
	seconds := 30 + g.rnd.IntN(3600)
	rec.EndTime = start.Add(time.Duration(seconds) * time.Second)
	switch r % 4 {
	case 0:
		rec.Source, rec.Service, rec.Resource, rec.Unit = usage.GlueJobRun, "AWSGlue", "glue:job/job-"+strconv.Itoa(r), usage.UnitDPUHours
		state := "SUCCEEDED"
		if g.rnd.IntN(20) == 0 {
			state = "FAILED"
		}
		rec.Quantity = decimal.New(int64(seconds)*10, 0).Div(decimal.NewFromInt(3600)).Round(usage.Scale)
		rec.Attributes = map[string]string{"jobName": "job-" + strconv.Itoa(r), "state": state, "executionTime": strconv.Itoa(seconds), "maxCapacity": "10"}
	case 1:
		rec.Source, rec.Service, rec.Resource, rec.Unit = usage.AthenaQuery, "AmazonAthena", "athena:workgroup/wg-"+strconv.Itoa(r), usage.UnitBytesScanned
		rec.Quantity = decimal.NewFromInt(nanos / 5 * 1 << 10)
		rec.Attributes = map[string]string{"state": "SUCCEEDED", "workGroup": "wg-" + strconv.Itoa(r)}
	case 2:
		rec.Source, rec.Service, rec.Resource, rec.Unit = usage.SageMakerNotebook, "AmazonSageMaker", "sagemaker:notebook/nb-"+strconv.Itoa(r), usage.UnitInstanceHours
		rec.Quantity = decimal.NewFromInt(24)
		rec.Attributes = map[string]string{"instanceType": "ml.t3.medium", "status": "InService", "inServiceSince": start.Format(time.RFC3339)}
	default:
		rec.Source, rec.Service, rec.Resource, rec.Unit = usage.LakeplaneJob, "lakeplane", "lakeplane:INGEST/"+rec.Dataset+"/"+strconv.Itoa(r), usage.UnitCPUSeconds
		rec.Quantity = decimal.NewFromInt(int64(seconds))
		rec.Attributes = map[string]string{"bytesRead": strconv.FormatInt(nanos, 10), "bytesWritten": "0"}
	}
	return rec
}

// withFreshSchema creates a schema with a random name in the database of
// dsn, runs fn with a DSN whose search_path is that schema, and drops the
// schema afterwards.
func withFreshSchema(ctx context.Context, dsn string, fn func(schemaDSN string) error) (err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("cost: postgres DSN: %w", err)
	}
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := pgx.Identifier{"lakebench_cost_" + hex.EncodeToString(b)}.Sanitize()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("cost: create schema: %w", err)
	}
	defer func() {
		if _, derr := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); derr != nil && err == nil {
			err = fmt.Errorf("cost: drop schema %s: %w", schema, derr)
		}
	}()
	name := strings.Trim(schema, `"`)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return fmt.Errorf("cost: postgres DSN: %w", err)
		}
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
		return fn(u.String())
	}
	return fn(dsn + " search_path=" + name)
}
