package cost

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
)

// fuzzParser runs the parser of format on data and checks what any input
// must give: no panic, items in line order, and every record valid.
func fuzzParser(t *testing.T, format Format, source usage.Source, data []byte) {
	p := &Parsing{Prices: DefaultPrices(), TeamTag: "team", DatasetTag: "dataset",
		Now: func() time.Time { return time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC) }}
	parse, err := p.parser(format)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	_ = parse(context.Background(), bytes.NewReader(data), func(it item) error {
		if it.line < 1 || it.line < last {
			t.Fatalf("item on line %d after line %d", it.line, last)
		}
		last = it.line
		if it.err != nil && len(it.records) > 0 {
			t.Fatalf("line %d: both records and error %v", it.line, it.err)
		}
		for _, r := range it.records {
			if err := r.Validate(); err != nil {
				t.Fatalf("line %d: invalid record %+v: %v", it.line, r, err)
			}
			if r.Source != source {
				t.Fatalf("line %d: source %s, want %s", it.line, r.Source, source)
			}
		}
		return nil
	})
}

func FuzzCUR(f *testing.F) {
	for _, s := range []string{cur2CSV, legacyCSV, badCUR, "", "\n", "identity_line_item_id,line_item_usage_start_date,line_item_unblended_cost\n\"a\nb\",x,\"", "identity/LineItemId,lineItem/UsageStartDate,lineItem/UnblendedCost,resourceTags/user:team\na,2026-01-01T00:00:00Z,1e400,x,y\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatCUR, usage.CUR, data) })
}

func FuzzGlueJobRuns(f *testing.F) {
	for _, s := range []string{glueJSONL, "", "{}", `{"JobRuns":null}`, `{"JobRuns":[1]}`, `{"Id":"x","StartedOn":-1e30,"JobRunState":"FAILED","DPUSeconds":-0}`, `{"Id":"x","StartedOn":"2026-01-01T00:00:00Z","JobRunState":"FAILED","ExecutionTime":1e3,"MaxCapacity":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatGlueJobRuns, usage.GlueJobRun, data) })
}

func FuzzAthenaQueries(f *testing.F) {
	for _, s := range []string{athenaJSONL, "", "[]", `{"QueryExecutions":{}}`, `{"QueryExecutionId":"q","Status":{"State":"SUCCEEDED","SubmissionDateTime":0},"Statistics":{"DataScannedInBytes":9223372036854775807}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatAthenaQueries, usage.AthenaQuery, data) })
}

func FuzzSageMaker(f *testing.F) {
	for _, s := range []string{sageMakerJSONL, "", `{"NotebookInstanceName":"n","NotebookInstanceStatus":"InService","InstanceType":"ml.t3.medium","LastModifiedTime":-62135596800}`, `{"NotebookInstanceName":"n","NotebookInstanceStatus":"InService","InstanceType":"ml.t3.medium","LastModifiedTime":"2027-01-01T00:00:00Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatSageMaker, usage.SageMakerNotebook, data) })
}
