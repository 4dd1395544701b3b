package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/store"
)

// RunUsage runs the conformance suite of store.Usage. open must return a
// fresh, empty store that implements store.Usage, as for Run.
func RunUsage(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range usageTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			u, ok := s.(store.Usage)
			if !ok {
				t.Fatalf("%T does not implement store.Usage", s)
			}
			tc.fn(t, u)
		})
	}
}

// usageTests check store.Usage.
var usageTests = []struct {
	name string
	fn   func(t *testing.T, u store.Usage)
}{
	{"RoundTrip", testUsageRoundTrip},
	{"InsertIdempotent", testUsageInsertIdempotent},
	{"InsertRejects", testUsageInsertRejects},
	{"SumExact", testUsageSumExact},
	{"SumGroupBy", testUsageSumGroupBy},
	{"SumPeriodAndCurrency", testUsageSumPeriodAndCurrency},
	{"SumByMonth", testUsageSumByMonth},
	{"SumEmpty", testUsageSumEmpty},
	{"CanceledContext", testUsageCanceledContext},
	{"Profile", testUsageProfile},
	{"NotebookActivity", testUsageNotebookActivity},
}

// money parses a decimal or fails the test.
func money(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("decimal %q: %v", s, err)
	}
	return d
}

// UsageRecord returns a usage record with the given id, resource, start and
// cost, in USD, and every other field set.
func UsageRecord(id, resource string, start time.Time, cost string) *usage.Record {
	return &usage.Record{
		ID:         id,
		Source:     usage.GlueJobRun,
		Resource:   resource,
		Dataset:    "sales.orders",
		Team:       "data",
		Service:    "AWSGlue",
		StartTime:  start,
		EndTime:    start.Add(90 * time.Second),
		Quantity:   decimal.RequireFromString("0.25"),
		Unit:       usage.UnitDPUHours,
		Cost:       decimal.RequireFromString(cost),
		Currency:   "USD",
		Attributes: map[string]string{"jobName": resource, "état": "réussi ✓"},
	}
}

// mustInsertUsage inserts recs and checks how many were new.
func mustInsertUsage(t *testing.T, u store.Usage, want int, recs ...*usage.Record) {
	t.Helper()
	n, err := u.InsertUsage(context.Background(), recs)
	if err != nil {
		t.Fatalf("InsertUsage: %v", err)
	}
	if n != want {
		t.Fatalf("InsertUsage stored %d records, want %d", n, want)
	}
}

// day is a time in 2026, UTC.
func day(month time.Month, d, hour int) time.Time {
	return time.Date(2026, month, d, hour, 0, 0, 0, time.UTC)
}

// assertSums checks sums against "key=cost/records" strings.
func assertSums(t *testing.T, what string, got []store.UsageSum, want ...string) {
	t.Helper()
	g := make([]string, len(got))
	for i, s := range got {
		g[i] = fmt.Sprintf("%s=%s/%d", s.Key, s.Cost.String(), s.Records)
	}
	if len(want) == 0 {
		want = []string{}
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, g, want)
	}
}

func sumUsage(t *testing.T, u store.Usage, q store.UsageQuery) []store.UsageSum {
	t.Helper()
	got, err := u.SumUsage(context.Background(), q)
	if err != nil {
		t.Fatalf("SumUsage(%+v): %v", q, err)
	}
	return got
}

func testUsageRoundTrip(t *testing.T, u store.Usage) {
	ctx := context.Background()
	in := UsageRecord("glue:jr_1", "glue:job/nightly", time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600)), "-1234567890.123456789")
	in.Quantity = decimal.RequireFromString("123456789.0000000000001")
	orig := in.Clone()
	mustInsertUsage(t, u, 1, in)
	if !reflect.DeepEqual(in, orig) {
		t.Errorf("InsertUsage altered its input")
	}
	got, err := u.GetUsage(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetUsage: %v", err)
	}
	want := in.Clone()
	want.Normalize()
	if !got.Cost.Equal(want.Cost) || !got.Quantity.Equal(want.Quantity) {
		t.Errorf("cost, quantity = %s, %s; want %s, %s", got.Cost, got.Quantity, want.Cost, want.Quantity)
	}
	got.Cost, got.Quantity, want.Cost, want.Quantity = decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetUsage:\n got  %+v\n want %+v", got, want)
	}

	min := &usage.Record{ID: "min", Source: usage.CUR, StartTime: day(1, 1, 0), Currency: "USD"}
	mustInsertUsage(t, u, 1, min)
	got, err = u.GetUsage(ctx, "min")
	if err != nil {
		t.Fatalf("GetUsage(min): %v", err)
	}
	if !got.EndTime.IsZero() || got.Attributes != nil || !got.Cost.IsZero() || !got.Quantity.IsZero() {
		t.Errorf("minimal record came back as %+v", got)
	}
	if _, err := u.GetUsage(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUsage(missing) = %v, want ErrNotFound", err)
	}
}

func testUsageInsertIdempotent(t *testing.T, u store.Usage) {
	a := UsageRecord("a", "r1", day(1, 1, 0), "1.5")
	b := UsageRecord("b", "r2", day(1, 1, 0), "2")
	mustInsertUsage(t, u, 2, a, b)
	// The same records again, a changed one under a stored id, and one
	// new record twice in the batch.
	changed := UsageRecord("a", "r1", day(1, 1, 0), "100")
	c := UsageRecord("c", "r3", day(1, 1, 0), "3")
	mustInsertUsage(t, u, 1, a, b, changed, c, c)
	assertSums(t, "sums", sumUsage(t, u, store.UsageQuery{Currency: "USD", GroupBy: store.GroupByResource}),
		"r3=3/1", "r2=2/1", "r1=1.5/1")
	mustInsertUsage(t, u, 0)
}

func testUsageInsertRejects(t *testing.T, u store.Usage) {
	ok := UsageRecord("ok", "r", day(1, 1, 0), "1")
	for name, bad := range map[string]*usage.Record{
		"no id":           UsageRecord("", "r", day(1, 1, 0), "1"),
		"too many digits": UsageRecord("x", "r", day(1, 1, 0), "0.0000000001"),
		"out of range":    UsageRecord("y", "r", day(1, 1, 0), "9223372037"),
	} {
		if _, err := u.InsertUsage(context.Background(), []*usage.Record{ok, bad}); err == nil {
			t.Errorf("InsertUsage with %s succeeded", name)
		}
	}
	if _, err := u.GetUsage(context.Background(), "ok"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a rejected batch stored its good record: GetUsage = %v", err)
	}
}

// testUsageSumExact checks that sums are exact where floating point is not.
func testUsageSumExact(t *testing.T, u store.Usage) {
	var recs []*usage.Record
	for i := range 10 {
		recs = append(recs, UsageRecord(fmt.Sprintf("tenth-%d", i), "tenths", day(1, 1, i), "0.1"))
	}
	for i := range 3 {
		recs = append(recs, UsageRecord(fmt.Sprintf("nano-%d", i), "nanos", day(1, 1, i), "0.000000001"))
	}
	recs = append(recs,
		UsageRecord("big", "big", day(1, 2, 0), "9000000000.999999999"),
		UsageRecord("credit", "big", day(1, 2, 0), "-0.999999999"),
		UsageRecord("tiny", "tiny", day(1, 2, 0), "0.000000001"),
	)
	mustInsertUsage(t, u, len(recs), recs...)
	assertSums(t, "sums", sumUsage(t, u, store.UsageQuery{Currency: "USD", GroupBy: store.GroupByResource}),
		"big=9000000000/2", "tenths=1/10", "nanos=0.000000003/3", "tiny=0.000000001/1")
}

func testUsageSumGroupBy(t *testing.T, u store.Usage) {
	mk := func(id, resource, team, dataset string, source usage.Source, service, cost string) *usage.Record {
		r := UsageRecord(id, resource, day(2, 1, 0), cost)
		r.Team, r.Dataset, r.Source, r.Service = team, dataset, source, service
		return r
	}
	mustInsertUsage(t, u, 5,
		mk("1", "glue:job/a", "data", "sales.orders", usage.GlueJobRun, "AWSGlue", "4"),
		mk("2", "glue:job/a", "data", "sales.orders", usage.GlueJobRun, "AWSGlue", "1"),
		mk("3", "athena:wg/primary", "bi", "sales.clients", usage.AthenaQuery, "AmazonAthena", "5"),
		mk("4", "Zeta", "", "", usage.CUR, "AmazonS3", "0.5"),
		mk("5", "alpha", "bi", "", usage.CUR, "AmazonS3", "0.5"),
	)
	for by, want := range map[store.UsageGroupBy][]string{
		// Ties by key, byte order: upper case first.
		store.GroupByResource: {"athena:wg/primary=5/1", "glue:job/a=5/2", "Zeta=0.5/1", "alpha=0.5/1"},
		store.GroupByTeam:     {"bi=5.5/2", "data=5/2", "=0.5/1"},
		store.GroupByDataset:  {"sales.clients=5/1", "sales.orders=5/2", "=1/2"},
		store.GroupBySource:   {"ATHENA_QUERY=5/1", "GLUE_JOB_RUN=5/2", "CUR=1/2"},
		store.GroupByService:  {"AWSGlue=5/2", "AmazonAthena=5/1", "AmazonS3=1/2"},
	} {
		assertSums(t, string(by), sumUsage(t, u, store.UsageQuery{Currency: "USD", GroupBy: by}), want...)
	}
	if _, err := u.SumUsage(context.Background(), store.UsageQuery{Currency: "USD", GroupBy: "cost; DROP TABLE usage_records"}); err == nil {
		t.Error("SumUsage with an unknown grouping succeeded")
	}
	if _, err := u.SumUsage(context.Background(), store.UsageQuery{GroupBy: store.GroupByTeam}); err == nil {
		t.Error("SumUsage without a currency succeeded")
	}
}

func testUsageSumPeriodAndCurrency(t *testing.T, u store.Usage) {
	start, end := day(3, 1, 0), day(4, 1, 0)
	eur := UsageRecord("eur", "r", day(3, 10, 0), "7")
	eur.Currency = "EUR"
	mustInsertUsage(t, u, 5,
		UsageRecord("before", "r", start.Add(-time.Microsecond), "1"),
		UsageRecord("first", "r", start, "2"),
		UsageRecord("last", "r", end.Add(-time.Microsecond), "3"),
		UsageRecord("after", "r", end, "4"),
		eur,
	)
	q := store.UsageQuery{Currency: "USD", GroupBy: store.GroupByResource}
	assertSums(t, "whole", sumUsage(t, u, q), "r=10/4")
	q.Start, q.End = start, end
	assertSums(t, "period", sumUsage(t, u, q), "r=5/2")
	q.Start = time.Time{}
	assertSums(t, "until end", sumUsage(t, u, q), "r=6/3")
	q.Start, q.End = start.In(time.FixedZone("x", -5*3600)), time.Time{}
	assertSums(t, "from start", sumUsage(t, u, q), "r=9/3")
	assertSums(t, "EUR", sumUsage(t, u, store.UsageQuery{Currency: "EUR", GroupBy: store.GroupByTeam}), "data=7/1")
}

func testUsageSumByMonth(t *testing.T, u store.Usage) {
	mustInsertUsage(t, u, 6,
		UsageRecord("m1", "a", time.Date(2025, 12, 31, 23, 59, 59, 999999000, time.UTC), "1.25"),
		// 2026-01-01 00:30 UTC, though 2025-12-31 in New York.
		UsageRecord("m2", "a", time.Date(2025, 12, 31, 19, 30, 0, 0, time.FixedZone("EST", -5*3600)), "2"),
		UsageRecord("m3", "b", day(1, 31, 23), "0.75"),
		UsageRecord("m4", "b", day(3, 1, 0), "10"),
		UsageRecord("m5", "c", day(3, 15, 0), "-1"),
		UsageRecord("m6", "c", day(4, 1, 0), "100"),
	)
	got, err := u.SumUsageByMonth(context.Background(), store.UsageQuery{Currency: "USD", End: day(4, 1, 0)})
	if err != nil {
		t.Fatalf("SumUsageByMonth: %v", err)
	}
	assertSums(t, "months", got, "2025-12=1.25/1", "2026-01=2.75/2", "2026-03=9/2")
}

func testUsageSumEmpty(t *testing.T, u store.Usage) {
	assertSums(t, "sums", sumUsage(t, u, store.UsageQuery{Currency: "USD", GroupBy: store.GroupByResource}))
	got, err := u.SumUsageByMonth(context.Background(), store.UsageQuery{Currency: "USD"})
	if err != nil {
		t.Fatalf("SumUsageByMonth: %v", err)
	}
	assertSums(t, "months", got)
}

func testUsageCanceledContext(t *testing.T, u store.Usage) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := u.InsertUsage(ctx, []*usage.Record{UsageRecord("x", "r", day(1, 1, 0), "1")}); err == nil {
		t.Error("InsertUsage with a canceled context succeeded")
	}
	if _, err := u.SumUsage(ctx, store.UsageQuery{Currency: "USD", GroupBy: store.GroupByResource}); err == nil {
		t.Error("SumUsage with a canceled context succeeded")
	}
}

func testUsageProfile(t *testing.T, u store.Usage) {
	mk := func(id, resource, team, cost string, attrs map[string]string) *usage.Record {
		r := UsageRecord(id, resource, day(5, 1, 0), cost)
		r.Team, r.Attributes = team, attrs
		return r
	}
	athena := mk("q", "a", "bi", "100", map[string]string{"state": "FAILED"})
	athena.Source = usage.AthenaQuery
	mustInsertUsage(t, u, 7,
		mk("1", "a", "", "1.000000001", map[string]string{"state": "FAILED", "executionTime": "30", "bytesRead": "1000"}),
		mk("2", "a", "data", "2", map[string]string{"state": "TIMEOUT", "executionTime": "60", "bytesWritten": "24"}),
		mk("3", "a", "", "3", map[string]string{"state": "SUCCEEDED", "executionTime": "61", "bytesRead": "x1", "bytesWritten": "-5"}),
		mk("4", "b", "ml", "0.5", map[string]string{"executionTime": "9999999999999999999999", "bytesRead": "7"}),
		mk("5", "b", "ml", "0.25", nil),
		athena,
		UsageRecord("old", "a", day(4, 1, 0), "1000"),
	)
	q := store.UsageProfileQuery{
		UsageQuery:   store.UsageQuery{Currency: "USD", GroupBy: store.GroupByResource, Start: day(5, 1, 0)},
		Source:       usage.GlueJobRun,
		FailedStates: []string{"FAILED", "TIMEOUT", "ERROR"},
		ShortSeconds: 60,
	}
	got, err := u.ProfileUsage(context.Background(), q)
	if err != nil {
		t.Fatalf("ProfileUsage: %v", err)
	}
	g := make([]string, len(got))
	for i, p := range got {
		g[i] = fmt.Sprintf("%s team=%s ds=%s cost=%s n=%d qty=%g max=%g failed=%d/%s short=%d/%s bytes=%g/%d", p.Key, p.Team, p.Dataset,
			p.Cost, p.Records, p.Quantity, p.MaxQuantity, p.Failed, p.FailedCost, p.Short, p.ShortCost, p.BytesProcessed, p.BytesRecords)
	}
	want := []string{
		"a team=data ds=sales.orders cost=6.000000001 n=3 qty=0.75 max=0.25 failed=2/3.000000001 short=2/3.000000001 bytes=1024/2",
		"b team=ml ds=sales.orders cost=0.75 n=2 qty=0.5 max=0.25 failed=0/0 short=0/0 bytes=7/1",
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("ProfileUsage:\n got  %q\n want %q", g, want)
	}
	q.Source, q.FailedStates, q.GroupBy = "", nil, store.GroupByTeam
	got, err = u.ProfileUsage(context.Background(), q)
	if err != nil {
		t.Fatalf("ProfileUsage by team: %v", err)
	}
	if len(got) != 4 || got[1].Key != "bi" || !got[1].Cost.Equal(money(t, "100")) || got[1].Failed != 0 {
		t.Errorf("ProfileUsage by team without failed states = %+v", got)
	}
	if _, err := u.ProfileUsage(context.Background(), store.UsageProfileQuery{UsageQuery: store.UsageQuery{Currency: "USD", GroupBy: "x"}}); err == nil {
		t.Error("ProfileUsage with an unknown grouping succeeded")
	}
}

func testUsageNotebookActivity(t *testing.T, u store.Usage) {
	nb := func(id, name string, start time.Time, cost string, attrs map[string]string) *usage.Record {
		r := UsageRecord(id, "sagemaker:notebook/"+name, start, cost)
		r.Source, r.Unit, r.Attributes = usage.SageMakerNotebook, usage.UnitInstanceHours, attrs
		r.EndTime = start.Add(24 * time.Hour)
		return r
	}
	open := nb("o", "open", day(6, 3, 0), "3", map[string]string{"lastActivity": "not a time"})
	open.EndTime = time.Time{}
	mustInsertUsage(t, u, 5,
		nb("a1", "alpha", day(6, 1, 0), "1.2", map[string]string{"instanceType": "ml.t3.medium", "inServiceSince": "2026-05-31T18:00:00Z"}),
		nb("a2", "alpha", day(6, 2, 0), "1.2", map[string]string{"instanceType": "ml.t3.medium", "inServiceSince": "2026-06-01T07:00:00Z",
			"lastActivity": "2026-06-02T09:30:00Z"}),
		open,
		UsageRecord("glue", "sagemaker:notebook/alpha", day(6, 5, 0), "9"),
		nb("old", "alpha", day(5, 1, 0), "50", nil),
	)
	got, err := u.ListNotebookActivity(context.Background(), store.UsageQuery{Currency: "USD", Start: day(6, 1, 0)})
	if err != nil {
		t.Fatalf("ListNotebookActivity: %v", err)
	}
	want := []store.NotebookActivity{
		{Resource: "sagemaker:notebook/alpha", InstanceType: "ml.t3.medium", InServiceSince: day(6, 1, 7),
			LastActivity: time.Date(2026, 6, 2, 9, 30, 0, 0, time.UTC), LastEnd: day(6, 3, 0), Cost: money(t, "2.4"), Records: 2},
		{Resource: "sagemaker:notebook/open", LastEnd: day(6, 3, 0), Cost: money(t, "3"), Records: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("ListNotebookActivity = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Cost.Equal(w.Cost) {
			t.Errorf("notebook %d cost %s, want %s", i, g.Cost, w.Cost)
		}
		g.Cost, w.Cost = decimal.Zero, decimal.Zero
		if !reflect.DeepEqual(g, w) {
			t.Errorf("notebook %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}
