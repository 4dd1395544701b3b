package cost

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/postgres"
	"github.com/lakeplane/lakeplane/internal/store/postgres/pgtest"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// assertField checks that err is a fault.FieldError naming field.
func assertField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *fault.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Errorf("%s: error %v, want a FieldError for %s", what, err, field)
	}
}

func TestHandlerRecordUsage(t *testing.T) {
	f := newFixture(t, false)
	h := NewHandler(f.svc)
	ctx := context.Background()
	start := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// Priced from the table: 2 DPU-hours at $0.44.
	resp, err := h.RecordUsage(ctx, &lakeplanev1.RecordUsageRequest{UsageRecord: &lakeplanev1.UsageRecord{
		Id: "my-run", Source: lakeplanev1.UsageRecord_GLUE_JOB_RUN, Resource: "glue:job/x", StartTime: start,
		Quantity: "2", Unit: "DPU-hours", Attributes: map[string]string{"k": "v"},
	}})
	if err != nil {
		t.Fatalf("RecordUsage: %v", err)
	}
	got := resp.GetUsageRecord()
	if got.GetCost() != "0.88" || got.GetCurrency() != "USD" || got.GetId() != "my-run" || got.GetSource() != lakeplanev1.UsageRecord_GLUE_JOB_RUN ||
		got.GetAttributes()["k"] != "v" || got.GetEndTime() != nil {
		t.Errorf("recorded %v", got)
	}
	// Recording it again changes nothing; a new record gets an id.
	again, err := h.RecordUsage(ctx, &lakeplanev1.RecordUsageRequest{UsageRecord: &lakeplanev1.UsageRecord{
		Id: "my-run", Source: lakeplanev1.UsageRecord_GLUE_JOB_RUN, StartTime: start, Cost: "99", Currency: "USD"}})
	if err != nil || again.GetUsageRecord().GetCost() != "0.88" {
		t.Errorf("second RecordUsage = %v, %v; want the first record", again, err)
	}
	fresh, err := h.RecordUsage(ctx, &lakeplanev1.RecordUsageRequest{UsageRecord: &lakeplanev1.UsageRecord{
		Source: lakeplanev1.UsageRecord_LAKEPLANE_JOB, StartTime: start, Cost: "0.000000001", Currency: "USD"}})
	if err != nil || fresh.GetUsageRecord().GetId() == "" || fresh.GetUsageRecord().GetCost() != "0.000000001" {
		t.Errorf("RecordUsage without id = %v, %v", fresh, err)
	}

	for _, tc := range []struct {
		name  string
		rec   *lakeplanev1.UsageRecord
		field string
	}{
		{"no record", nil, "usageRecord"},
		{"no source", &lakeplanev1.UsageRecord{StartTime: start, Cost: "1", Currency: "USD"}, "usageRecord.source"},
		{"no start", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, Cost: "1", Currency: "USD"}, "usageRecord.startTime"},
		{"bad cost", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, StartTime: start, Cost: "1,5", Currency: "USD"}, "usageRecord.cost"},
		{"cost too precise", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, StartTime: start, Cost: "0.0000000001", Currency: "USD"}, "usageRecord.cost"},
		{"cost without currency", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, StartTime: start, Cost: "1"}, "usageRecord.currency"},
		{"no rate", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, StartTime: start, Quantity: "1", Unit: "parsecs"}, "usageRecord.cost"},
		{"bad quantity", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, StartTime: start, Quantity: "x"}, "usageRecord.quantity"},
		{"end before start", &lakeplanev1.UsageRecord{Source: lakeplanev1.UsageRecord_CUR, StartTime: start,
			EndTime: timestamppb.New(start.AsTime().Add(-time.Second)), Cost: "1", Currency: "USD"}, "usageRecord.endTime"},
	} {
		_, err := h.RecordUsage(ctx, &lakeplanev1.RecordUsageRequest{UsageRecord: tc.rec})
		assertField(t, tc.name, err, tc.field)
	}
}

func TestHandlerImportAndReport(t *testing.T) {
	f := newFixture(t, false)
	h := NewHandler(f.svc)
	ctx := context.Background()
	uri := f.put(t, "bad.csv", []byte(badCUR))
	resp, err := h.ImportUsage(ctx, &lakeplanev1.ImportUsageRequest{Source: lakeplanev1.ImportUsageRequest_CUR, Uri: uri, SkipMalformed: true})
	if err != nil || resp.GetImported() != 2 || resp.GetSkipped() != 3 || len(resp.GetErrors()) != 3 || resp.GetErrors()[0].GetLine() != 3 {
		t.Errorf("ImportUsage = %v, %v", resp, err)
	}
	_, err = h.ImportUsage(ctx, &lakeplanev1.ImportUsageRequest{Uri: uri})
	assertField(t, "no source", err, "source")
	_, err = h.ImportUsage(ctx, &lakeplanev1.ImportUsageRequest{Source: lakeplanev1.ImportUsageRequest_CUR})
	assertField(t, "no uri", err, "uri")

	rep, err := h.GetCostReport(ctx, &lakeplanev1.GetCostReportRequest{
		StartTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		EndTime:   timestamppb.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &lakeplanev1.GetCostReportResponse{
		Total: "3", Currency: "USD",
		Items: []*lakeplanev1.CostItem{
			{Key: "", Cost: "3", Share: 1, CumulativeShare: 1, Runs: 2},
		},
		Pareto: &lakeplanev1.ParetoCut{ItemsFraction: 1, CostFraction: 1, TopItems: []string{""}},
		Trend:  []*lakeplanev1.MonthCost{{Month: "2026-01", Cost: "3"}},
	}
	if !proto.Equal(rep, want) {
		t.Errorf("GetCostReport:\n got  %v\n want %v", rep, want)
	}
	for field, req := range map[string]*lakeplanev1.GetCostReportRequest{
		"groupBy":         {GroupBy: "colour"},
		"paretoThreshold": {ParetoThreshold: 1.5},
		"endTime":         {StartTime: timestamppb.New(time.Unix(10, 0)), EndTime: timestamppb.New(time.Unix(10, 0))},
		"startTime":       {StartTime: &timestamppb.Timestamp{Nanos: -1}},
	} {
		_, err := h.GetCostReport(ctx, req)
		assertField(t, field, err, field)
	}
}

func TestRecordJob(t *testing.T) {
	f := newFixture(t, false)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := JobRun{JobID: "j1", Kind: "INGEST", Dataset: "sales.orders", Team: "data", Start: start, End: start.Add(90 * time.Second),
		Usage: JobUsage{CPUSeconds: dec("3600"), BytesRead: 10, BytesWritten: 20}}
	r, err := f.svc.RecordJob(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "lakeplane:job/j1" || r.Cost.String() != "0.04048" || r.Resource != "lakeplane:INGEST/sales.orders" ||
		r.Attributes["durationSeconds"] != "90" || r.Attributes["bytesWritten"] != "20" {
		t.Errorf("RecordJob = %+v", r)
	}
	if _, err := f.svc.RecordJob(context.Background(), run); err != nil {
		t.Errorf("RecordJob again: %v", err)
	}
	assertStrings(t, "items", itemCosts(f.report(t, store.GroupByTeam)), "data=0.04048/1")
}

// TestReportSameOnSQLiteAndPostgres imports the same files into both
// stores and compares every report.
func TestReportSameOnSQLiteAndPostgres(t *testing.T) {
	pg, err := postgres.Open(context.Background(), pgtest.FreshSchema(t))
	pgStore := storetest.Opened(t, pg, err)
	fixtures := []*fixture{newFixture(t, false), newFixtureOn(t, pgStore, false)}
	for _, f := range fixtures {
		for _, in := range []struct {
			format Format
			name   string
			data   []byte
		}{
			{FormatCUR, "cur2.csv.gz", gz(t, cur2CSV)},
			{FormatCUR, "legacy.csv", []byte(legacyCSV)},
			{FormatCUR, "bad.csv", []byte(badCUR)},
			{FormatGlueJobRuns, "glue.jsonl", []byte(glueJSONL)},
			{FormatAthenaQueries, "athena.jsonl", []byte(athenaJSONL)},
			{FormatSageMaker, "sagemaker.jsonl", []byte(sageMakerJSONL)},
		} {
			if _, err := f.svc.Import(context.Background(), ImportRequest{Format: in.format, URI: f.put(t, in.name, in.data), SkipMalformed: true}); err != nil {
				t.Fatalf("Import(%s): %v", in.name, err)
			}
		}
	}
	periods := [][2]*timestamppb.Timestamp{
		{nil, nil},
		{timestamppb.New(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)), timestamppb.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))},
	}
	for _, by := range store.UsageGroupBys {
		for _, p := range periods {
			req := &lakeplanev1.GetCostReportRequest{GroupBy: string(by), StartTime: p[0], EndTime: p[1], ParetoThreshold: 0.5}
			var reps []*lakeplanev1.GetCostReportResponse
			for _, f := range fixtures {
				rep, err := NewHandler(f.svc).GetCostReport(context.Background(), req)
				if err != nil {
					t.Fatalf("GetCostReport(%v): %v", req, err)
				}
				reps = append(reps, rep)
			}
			if !proto.Equal(reps[0], reps[1]) {
				t.Errorf("GetCostReport(%v):\n sqlite   %v\n postgres %v", req, reps[0], reps[1])
			}
			if len(reps[0].GetItems()) == 0 {
				t.Errorf("GetCostReport(%v) is empty", req)
			}
		}
	}
}
