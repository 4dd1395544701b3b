package cost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store/postgres"
	"github.com/lakeplane/lakeplane/internal/store/postgres/pgtest"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// fakeLayouts is a DatasetStats over a map.
type fakeLayouts map[string]DatasetLayout

func (f fakeLayouts) DatasetLayout(_ context.Context, name string) (DatasetLayout, bool, error) {
	l, ok := f[name]
	return l, ok, nil
}

// fakeStopper records the notebooks it stops.
type fakeStopper struct{ stopped []string }

func (f *fakeStopper) StopNotebookInstance(_ context.Context, name string) error {
	f.stopped = append(f.stopped, name)
	return nil
}

const gib = 1 << 30

// recNow is the clock of the recommendation tests: the window is the 30
// days before it, all of February 2026 and January's last two days.
var recNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// recLayouts are the datasets of the recommendation tests.
var recLayouts = fakeLayouts{
	// Overprovisioned: every job's dataset is 1 GiB.
	"etl.a": {SizeBytes: gib, Files: 8}, "etl.b": {SizeBytes: gib, Files: 8},
	"etl.c": {SizeBytes: gib, Files: 8}, "etl.d": {SizeBytes: gib, Files: 8},
	"etl.e": {SizeBytes: gib, Files: 8},
	// Full scans: scanned whole but partitioned, or not scanned whole.
	"web.logs":   {SizeBytes: gib, Files: 8},
	"web.events": {SizeBytes: gib, Files: 8, Partitioned: true},
	"web.clicks": {SizeBytes: 100 * gib, Files: 800},
	// Small files: 5,000 of 200 KiB; 100 large ones; 10 tiny ones.
	"sales.small": {SizeBytes: 5000 * 200 << 10, Files: 5000},
	"sales.big":   {SizeBytes: 100 * 256 << 20, Files: 100},
	"sales.few":   {SizeBytes: 10 << 10, Files: 10},
}

// glueRunJSON is one JobRun line.
func glueRunJSON(id, job, state string, seconds int, sizing, team, dataset string) string {
	args := fmt.Sprintf(`{"--team":%q,"--dataset":%q}`, team, dataset)
	return fmt.Sprintf(`{"Id":%q,"JobName":%q,"StartedOn":"2026-02-10T00:00:00Z","JobRunState":%q,"ExecutionTime":%d,%s,"Arguments":%s}`+"\n",
		id, job, state, seconds, sizing, args)
}

// loadRecommendationData imports and records usage built for each kind of
// recommendation, and usage built against it.
func loadRecommendationData(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	f.now = recNow
	// Notebooks: "idle" in service since Feb 20 with no activity since;
	// "busy" restarted 4 hours ago; "off" stopped; "quiet" in service
	// since Feb 20, but its lastActivity is recent (recorded below).
	nbs := `{"NotebookInstances":[` +
		`{"NotebookInstanceName":"idle","NotebookInstanceStatus":"InService","InstanceType":"ml.t3.medium","LastModifiedTime":"2026-02-20T00:00:00Z"},` +
		`{"NotebookInstanceName":"busy","NotebookInstanceStatus":"InService","InstanceType":"ml.m5.xlarge","LastModifiedTime":"2026-02-28T20:00:00Z"},` +
		`{"NotebookInstanceName":"off","NotebookInstanceStatus":"Stopped","InstanceType":"ml.p3.2xlarge","LastModifiedTime":"2026-02-01T00:00:00Z"}]}` + "\n"
	f.importOK(t, FormatSageMaker, f.put(t, "nb.jsonl", []byte(nbs)), false, 9+1, 0)

	var glue strings.Builder
	for i := range 10 {
		// tiny: 10 DPUs for 20 s, billed the minimum: a Python shell would do.
		glue.WriteString(glueRunJSON(fmt.Sprintf("tiny-%d", i), "tiny", "SUCCEEDED", 20, `"MaxCapacity":10`, "ops", ""))
		// shell: already a Python shell job; long: runs for an hour.
		glue.WriteString(glueRunJSON(fmt.Sprintf("shell-%d", i), "shell", "SUCCEEDED", 20, `"MaxCapacity":0.0625`, "ops", ""))
		glue.WriteString(glueRunJSON(fmt.Sprintf("long-%d", i), "long", "SUCCEEDED", 3600, `"MaxCapacity":10`, "ops", ""))
	}
	for i := range 3 {
		// Team etl: a, b, c and e take 2 DPUs for 10 minutes per GiB, d 20.
		for _, j := range []string{"a", "b", "c", "e"} {
			glue.WriteString(glueRunJSON(fmt.Sprintf("%s-%d", j, i), j, "SUCCEEDED", 600, `"WorkerType":"G.1X","NumberOfWorkers":2`, "etl", "etl."+j))
		}
		glue.WriteString(glueRunJSON(fmt.Sprintf("d-%d", i), "d", "SUCCEEDED", 600, `"WorkerType":"G.1X","NumberOfWorkers":20`, "etl", "etl.d"))
		// flaky failed 3 times (and succeeded once, below); once failed once.
		glue.WriteString(glueRunJSON(fmt.Sprintf("flaky-%d", i), "flaky", "FAILED", 120, `"MaxCapacity":10`, "ops", ""))
	}
	glue.WriteString(glueRunJSON("flaky-ok", "flaky", "SUCCEEDED", 120, `"MaxCapacity":10`, "ops", ""))
	glue.WriteString(glueRunJSON("once-0", "once", "FAILED", 120, `"MaxCapacity":10`, "ops", ""))
	glue.WriteString(glueRunJSON("once-1", "once", "SUCCEEDED", 120, `"MaxCapacity":10`, "ops", ""))
	f.importOK(t, FormatGlueJobRuns, f.put(t, "glue.jsonl", []byte(glue.String())), false, 30+15+3+1+2, 0)

	record := func(r *usage.Record) {
		t.Helper()
		if r.StartTime.IsZero() {
			r.StartTime = time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
		}
		if _, err := f.svc.Record(ctx, r, true); err != nil {
			t.Fatalf("Record(%s): %v", r.ID, err)
		}
	}
	for i := range 4 {
		for ds, scanned := range map[string]int64{"web.logs": 900 << 20, "web.events": 900 << 20, "web.clicks": gib} {
			record(&usage.Record{ID: fmt.Sprintf("%s-%d", ds, i), Source: usage.AthenaQuery, Resource: "athena:workgroup/primary",
				Dataset: ds, Quantity: decimal.NewFromInt(scanned), Unit: usage.UnitBytesScanned})
		}
		// Failed queries cost nothing.
		record(&usage.Record{ID: fmt.Sprintf("failed-q-%d", i), Source: usage.AthenaQuery, Resource: "athena:workgroup/adhoc",
			Quantity: decimal.NewFromInt(gib), Unit: usage.UnitBytesScanned, Attributes: map[string]string{"state": "FAILED"}})
	}
	for _, ds := range []string{"sales.small", "sales.big", "sales.few"} {
		record(&usage.Record{ID: "job-" + ds, Source: usage.LakeplaneJob, Resource: "lakeplane:INGEST/" + ds, Dataset: ds,
			Quantity: decimal.NewFromInt(360000), Unit: usage.UnitCPUSeconds})
	}
	// quiet's activity, as a finer source records it.
	record(&usage.Record{ID: "quiet", Source: usage.SageMakerNotebook, Resource: "sagemaker:notebook/quiet",
		StartTime: time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC),
		Quantity: decimal.NewFromInt(24), Unit: usage.UnitInstanceHours,
		Attributes: map[string]string{"instanceType": "ml.t3.large", "inServiceSince": "2026-02-20T00:00:00Z", "lastActivity": "2026-02-28T23:00:00Z"}})
}

// recStrings renders recommendations as "KIND resource saving".
func recStrings(recs []Recommendation) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s %s %s", r.Kind, r.Resource, r.MonthlySaving))
	}
	return out
}

// sortedWant returns the recommendations on loadRecommendationData,
// with their monthly savings (the window is 720 hours, a month 730):
//   - idle: ml.t3.medium at $0.05 an hour for 730 hours.
//   - d: $4.4 for 3 runs at 10 times the team's median of DPU-hours per
//     GiB, so 90% of it, × 730/720.
//   - flaky: 3 failed runs of 10 DPUs for 120 s, $0.44 ... × 730/720.
//   - web.logs: half the cost of 4 queries of 900 MiB.
//   - tiny: 10 runs of 10 DPUs billed 60 s ($0.733333330) less 10 Python
//     shell runs of 1 DPU for 60 s ($0.073333333...), × 730/720.
//   - sales.small: a quarter of 100 CPU-hours at $0.04048, × 730/720.
func sortedWant() []string {
	return []string{
		"IDLE_NOTEBOOK sagemaker:notebook/idle 36.5",
		"OVERPROVISIONED_JOB glue:job/d 4.02",
		"SMALL_FILES sales.small 1.03",
		"OVERPROVISIONED_JOB glue:job/tiny 0.67",
		"FAILED_RETRIES glue:job/flaky 0.45",
		"FULL_SCAN web.logs 0.01",
	}
}

// newRecommendFixture is a fixture with recLayouts and the data loaded.
func newRecommendFixture(t *testing.T, f *fixture, stopper NotebookStopper) *fixture {
	t.Helper()
	svc, err := NewService(Deps{Store: f.svc.store, Objects: f.objects, Now: func() time.Time { return f.now }, Datasets: recLayouts, Notebooks: stopper})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	loadRecommendationData(t, f)
	return f
}

func TestRecommendEachKind(t *testing.T) {
	f := newRecommendFixture(t, newFixture(t, false), nil)
	recs, err := f.svc.Recommend(context.Background(), RecommendRequest{})
	if err != nil {
		t.Fatal(err)
	}
	assertStrings(t, "recommendations", recStrings(recs), sortedWant()...)
	for _, r := range recs {
		if r.Currency != "USD" || r.Action == "" || r.Reason == "" {
			t.Errorf("recommendation %+v lacks currency, action or reason", r)
		}
	}

	// Without dataset stats, only the kinds that need none.
	bare, err := NewService(Deps{Store: f.svc.store, Now: func() time.Time { return recNow }})
	if err != nil {
		t.Fatal(err)
	}
	recs, err = bare.Recommend(context.Background(), RecommendRequest{})
	if err != nil {
		t.Fatal(err)
	}
	assertStrings(t, "without dataset stats", recStrings(recs),
		"IDLE_NOTEBOOK sagemaker:notebook/idle 36.5", "OVERPROVISIONED_JOB glue:job/tiny 0.67", "FAILED_RETRIES glue:job/flaky 0.45")

	// A higher idle threshold, and a window before the data.
	recs, err = f.svc.Recommend(context.Background(), RecommendRequest{IdleHours: 24 * 30})
	if err != nil || len(recs) == 0 || recs[0].Kind == IdleNotebook {
		t.Errorf("Recommend(idle 30 days) = %v, %v; want no idle notebook", recStrings(recs), err)
	}
	recs, err = f.svc.Recommend(context.Background(), RecommendRequest{End: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(recs) != 0 {
		t.Errorf("Recommend(January) = %v, %v; want none", recStrings(recs), err)
	}
	for _, bad := range []float64{-1, 1e300} {
		_, err := f.svc.Recommend(context.Background(), RecommendRequest{IdleHours: bad})
		assertField(t, fmt.Sprint("idle hours ", bad), err, "idleHours")
	}
}

func TestRecommendationsInReportAndPages(t *testing.T) {
	f := newRecommendFixture(t, newFixture(t, false), nil)
	h := NewHandler(f.svc)
	ctx := context.Background()
	rep, err := h.GetCostReport(ctx, &lakeplanev1.GetCostReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.GetRecommendations() {
		got = append(got, fmt.Sprintf("%s %s %s", r.GetKind(), r.GetResource(), r.GetEstimatedMonthlySaving()))
	}
	assertStrings(t, "report recommendations", got, sortedWant()...)

	got = nil
	token := ""
	for pages := 0; ; pages++ {
		resp, err := h.ListRecommendations(ctx, &lakeplanev1.ListRecommendationsRequest{PageSize: 4, PageToken: token})
		if err != nil {
			t.Fatalf("ListRecommendations: %v", err)
		}
		if pages > 2 || len(resp.GetRecommendations()) > 4 {
			t.Fatalf("page %d has %d recommendations", pages, len(resp.GetRecommendations()))
		}
		for _, r := range resp.GetRecommendations() {
			got = append(got, fmt.Sprintf("%s %s %s", r.GetKind(), r.GetResource(), r.GetEstimatedMonthlySaving()))
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	assertStrings(t, "pages", got, sortedWant()...)
	for _, tc := range []struct {
		req   *lakeplanev1.ListRecommendationsRequest
		field string
	}{
		{&lakeplanev1.ListRecommendationsRequest{PageSize: -1}, "pageSize"},
		{&lakeplanev1.ListRecommendationsRequest{PageToken: "bm9wZQ"}, "pageToken"},
	} {
		_, err := h.ListRecommendations(ctx, tc.req)
		assertField(t, tc.field, err, tc.field)
	}
}

func TestStopIdleNotebooks(t *testing.T) {
	stopper := &fakeStopper{}
	for _, withStopper := range []bool{false, true} {
		var st NotebookStopper
		if withStopper {
			st = stopper
		}
		f := newRecommendFixture(t, newFixture(t, false), st)
		h := NewHandler(f.svc)
		ctx := context.Background()
		resp, err := h.StopIdleNotebooks(ctx, &lakeplanev1.StopIdleNotebooksRequest{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		want := &lakeplanev1.StopIdleNotebooksResponse{Notebooks: []*lakeplanev1.Notebook{
			{Name: "idle", InstanceType: "ml.t3.medium", IdleHours: 216, EstimatedMonthlySaving: "36.5", Currency: "USD"},
		}}
		if !proto.Equal(resp, want) {
			t.Errorf("dry run:\n got  %v\n want %v", resp, want)
		}
		// "busy" has been idle for 4 hours, and costs more.
		resp, err = h.StopIdleNotebooks(ctx, &lakeplanev1.StopIdleNotebooksRequest{DryRun: true, IdleHours: 3.5})
		if err != nil || len(resp.GetNotebooks()) != 2 || resp.GetNotebooks()[0].GetName() != "busy" || resp.GetNotebooks()[0].GetIdleHours() != 4 {
			t.Errorf("dry run at 3.5 hours = %v, %v", resp, err)
		}
		_, err = h.StopIdleNotebooks(ctx, &lakeplanev1.StopIdleNotebooksRequest{IdleHours: -2, DryRun: true})
		assertField(t, "negative idle hours", err, "idleHours")

		resp, err = h.StopIdleNotebooks(ctx, &lakeplanev1.StopIdleNotebooksRequest{})
		if !withStopper {
			if !errors.Is(err, fault.ErrFailedPrecondition) || !strings.Contains(err.Error(), "AWS integration") {
				t.Errorf("stop without the AWS integration = %v, %v; want a failed precondition", resp, err)
			}
			continue
		}
		if err != nil || len(resp.GetNotebooks()) != 1 || !resp.GetNotebooks()[0].GetStopped() || strings.Join(stopper.stopped, ",") != "idle" {
			t.Errorf("stop = %v, %v; stopped %v", resp, err, stopper.stopped)
		}
	}
}

// TestRecommendSameOnSQLiteAndPostgres checks that both stores give the
// same recommendations.
func TestRecommendSameOnSQLiteAndPostgres(t *testing.T) {
	pg, err := postgres.Open(context.Background(), pgtest.FreshSchema(t))
	pgStore := storetest.Opened(t, pg, err)
	f := newRecommendFixture(t, newFixtureOn(t, pgStore, false), nil)
	recs, err := f.svc.Recommend(context.Background(), RecommendRequest{})
	if err != nil {
		t.Fatal(err)
	}
	assertStrings(t, "postgres recommendations", recStrings(recs), sortedWant()...)
}
