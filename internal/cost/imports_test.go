package cost

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// itemCosts renders a report's items as "key=cost/runs".
func itemCosts(rep *Report) []string {
	out := []string{}
	for _, it := range rep.Items {
		out = append(out, fmt.Sprintf("%s=%s/%d", it.Key, it.Cost, it.Runs))
	}
	return out
}

// monthCosts renders a report's trend as "month=cost".
func monthCosts(rep *Report) []string {
	out := []string{}
	for _, m := range rep.Trend {
		out = append(out, m.Month+"="+m.Cost.String())
	}
	return out
}

func assertStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestImportCUR(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		data       func(t *testing.T) []byte
		n          int64
		total      string
		items      []string
	}{
		{"CUR 2.0", "cur2.csv", func(*testing.T) []byte { return []byte(cur2CSV) }, 5, "3.592345679",
			[]string{"arn:aws:glue:us-east-1:1:job/nightly=3.25/3", "AWSGlue=0.33/1", "arn:aws:athena:us-east-1:1:workgroup/primary=0.012345679/1"}},
		{"CUR 2.0 gzip", "cur2.csv.gz", func(t *testing.T) []byte { return gz(t, cur2CSV) }, 5, "3.592345679",
			[]string{"arn:aws:glue:us-east-1:1:job/nightly=3.25/3", "AWSGlue=0.33/1", "arn:aws:athena:us-east-1:1:workgroup/primary=0.012345679/1"}},
		{"legacy", "legacy.csv", func(*testing.T) []byte { return []byte(legacyCSV) }, 3, "1.800000001",
			[]string{"arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1=1.8/2", "lake=0.000000001/1"}},
	} {
		for _, where := range []string{"file", "s3"} {
			t.Run(tc.name+" from "+where, func(t *testing.T) {
				f := newFixture(t, where == "s3")
				name := tc.file
				if where == "s3" {
					name = "s3/cur/" + tc.file
				}
				f.importCURTwice(t, f.put(t, name, tc.data(t)), tc.n, tc.total, tc.items...)
			})
		}
	}
}

// importCURTwice imports the CUR file at uri, which holds n line items,
// checks the report's total and items, then imports it again: the second
// import adds nothing.
func (f *fixture) importCURTwice(t *testing.T, uri string, n int64, total string, items ...string) {
	t.Helper()
	f.importOK(t, FormatCUR, uri, false, n, 0)
	rep := f.report(t, store.GroupByResource)
	if rep.Total.String() != total {
		t.Errorf("total %s, want %s", rep.Total, total)
	}
	assertStrings(t, "items", itemCosts(rep), items...)
	f.importOK(t, FormatCUR, uri, false, 0, n)
	if again := f.report(t, store.GroupByResource); !again.Total.Equal(rep.Total) {
		t.Errorf("total after a second import %s, want %s", again.Total, rep.Total)
	}
}

func TestImportCURTagsAndMonths(t *testing.T) {
	f := newFixture(t, false)
	f.importOK(t, FormatCUR, f.put(t, "cur2.csv", []byte(cur2CSV)), false, 5, 0)
	f.importOK(t, FormatCUR, f.put(t, "legacy.csv", []byte(legacyCSV)), false, 3, 0)
	assertStrings(t, "teams", itemCosts(f.report(t, store.GroupByTeam)),
		"data=3.250000001/4", "ml=1.8/2", "=0.33/1", "bi=0.012345679/1")
	assertStrings(t, "datasets", itemCosts(f.report(t, store.GroupByDataset)),
		"sales.orders=3.300000001/3", "=2.092345679/5")
	assertStrings(t, "months", monthCosts(f.report(t, store.GroupByResource)),
		"2026-01=2.31234568", "2026-02=3.08")
	r, err := f.store.(store.Usage).GetUsage(context.Background(), "cur:li-2@2026-01-02T00:00:00Z/2026-01-02T01:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tag:user_team": "bi", "tag:user_note": "a, b", "lineItemType": "Usage",
		"usageType": "USE1-DataScannedInTB", "operation": "RunQuery", "lineItemId": "li-2", "unroundedCost": "0.0123456785"}
	if !reflect.DeepEqual(r.Attributes, want) || r.Service != "AmazonAthena" || r.Unit != "Terabytes" || r.Quantity.String() != "0.002" {
		t.Errorf("li-2 stored as %+v", r)
	}
}

// badCUR has a bad cost on line 3, a short line 4 and a bad tag map on
// line 5 (the quoted field of line 2 spans one line).
const badCUR = `identity_line_item_id,line_item_usage_start_date,line_item_unblended_cost,resource_tags
a,2026-01-01T00:00:00Z,1,"{}"
b,2026-01-01T00:00:00Z,abc,
c,2026-01-01T00:00:00Z
d,2026-01-01T00:00:00Z,1,"[1]"
e,2026-01-01T00:00:00Z,2,
`

func TestImportMalformed(t *testing.T) {
	f := newFixture(t, false)
	uri := f.put(t, "bad.csv", []byte(badCUR))
	_, err := f.svc.Import(context.Background(), ImportRequest{Format: FormatCUR, URI: uri})
	var fe *fault.FieldError
	if !errors.As(err, &fe) || fe.Field != "uri" || fe.Row != 3 || !strings.Contains(fe.Reason, "abc") {
		t.Fatalf("strict import error = %v, want a FieldError for uri row 3", err)
	}
	if rep := f.report(t, store.GroupByResource); len(rep.Items) != 0 {
		t.Errorf("a failed import stored %v", itemCosts(rep))
	}
	res := f.importOK(t, FormatCUR, uri, true, 2, 3)
	var lines []int64
	for _, e := range res.Errors {
		lines = append(lines, e.Line)
		if e.URI != uri || e.Message == "" {
			t.Errorf("error %+v", e)
		}
	}
	if !reflect.DeepEqual(lines, []int64{3, 4, 5}) {
		t.Errorf("errors on lines %v, want [3 4 5]", lines)
	}
	if got := f.report(t, store.GroupByResource).Total.String(); got != "3" {
		t.Errorf("total %s, want 3", got)
	}
}

func TestImportRefuses(t *testing.T) {
	f := newFixture(t, false)
	for name, tc := range map[string]struct {
		format Format
		data   string
		field  string
	}{
		"parquet":    {FormatCUR, "PAR1\x00\x00", "uri"},
		"not a CUR":  {FormatCUR, "a,b,c\n1,2,3\n", ""},
		"empty":      {FormatCUR, "", ""},
		"bad format": {"XML", "{}", "source"},
	} {
		_, err := f.svc.Import(context.Background(), ImportRequest{Format: tc.format, URI: f.put(t, strings.ReplaceAll(name, " ", "_"), []byte(tc.data))})
		if err == nil {
			t.Errorf("%s: Import succeeded", name)
			continue
		}
		var fe *fault.FieldError
		if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
			t.Errorf("%s: error %v does not name field %s", name, err, tc.field)
		}
	}
	if _, err := f.svc.Import(context.Background(), ImportRequest{Format: FormatCUR, URI: "file://" + f.dir + "/missing.csv"}); err == nil {
		t.Error("importing a missing file succeeded")
	}
}

func TestImportGlueJobRuns(t *testing.T) {
	f := newFixture(t, true)
	uri := f.put(t, "s3/glue/runs.jsonl", []byte(glueJSONL))
	if _, err := f.svc.Import(context.Background(), ImportRequest{Format: FormatGlueJobRuns, URI: uri}); err == nil {
		t.Fatal("strict import of a malformed file succeeded")
	}
	res := f.importOK(t, FormatGlueJobRuns, uri, true, 3, 2)
	if len(res.Errors) != 1 || res.Errors[0].Line != 5 {
		t.Errorf("errors %+v, want line 5", res.Errors)
	}
	f.importOK(t, FormatGlueJobRuns, uri, true, 0, 5)
	rep := f.report(t, store.GroupByResource)
	if rep.Total.String() != "0.247334722" {
		t.Errorf("total %s, want 0.247334722", rep.Total)
	}
	assertStrings(t, "items", itemCosts(rep), "glue:job/nightly=0.147888889/2", "glue:job/flex=0.099445833/1")
	r, err := f.store.(store.Usage).GetUsage(context.Background(), "glue:jr_c")
	if err != nil {
		t.Fatal(err)
	}
	if !r.StartTime.Equal(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)) || !r.EndTime.Equal(time.Date(2026, 1, 15, 0, 20, 34, 500000000, time.UTC)) ||
		r.Quantity.String() != "0.342916667" || r.Attributes["executionClass"] != "FLEX" {
		t.Errorf("jr_c stored as %+v", r)
	}
	a, _ := f.store.(store.Usage).GetUsage(context.Background(), "glue:jr_a")
	if a == nil || a.Team != "data" || a.Dataset != "sales.orders" {
		t.Errorf("jr_a stored as %+v", a)
	}
}

func TestImportAthenaQueries(t *testing.T) {
	f := newFixture(t, false)
	uri := f.put(t, "athena.jsonl.gz", gz(t, athenaJSONL))
	f.importOK(t, FormatAthenaQueries, uri, false, 3, 1)
	f.importOK(t, FormatAthenaQueries, uri, false, 0, 4)
	assertStrings(t, "items", itemCosts(f.report(t, store.GroupByResource)),
		"athena:workgroup/etl=0.000052452/1", "athena:workgroup/primary=0.000047684/2")
}

func TestImportSageMaker(t *testing.T) {
	f := newFixture(t, false)
	uri := f.put(t, "notebooks.jsonl", []byte(sageMakerJSONL))
	// At 2026-01-03 12:00 two days ended: 6 h and 24 h of ml.t3.medium.
	f.importOK(t, FormatSageMaker, uri, false, 2, 0)
	f.importOK(t, FormatSageMaker, uri, false, 0, 2)
	f.now = time.Date(2026, 1, 4, 1, 0, 0, 0, time.UTC)
	f.importOK(t, FormatSageMaker, uri, false, 1, 2)
	assertStrings(t, "items", itemCosts(f.report(t, store.GroupByResource)), "sagemaker:notebook/nb1=2.7/3")
}

func TestLinesTooLong(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	var got []string
	err := lines(context.Background(), strings.NewReader("a\r\n"+long+"\nb"), func(n int64, line []byte, err error) error {
		got = append(got, fmt.Sprintf("%d:%d:%v", n, len(line), err != nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	assertStrings(t, "lines", got, "1:1:false", "2:0:true", "3:1:false")
}
