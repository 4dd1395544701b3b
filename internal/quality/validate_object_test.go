package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/errcode"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality/eval"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/storage"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// objectFixture is a service over a SQLite store with one dataset and one
// suite, reading objects from a directory.
type objectFixture struct {
	svc *Service
	dir string
}

const objectSuite = `Rules = [
    ColumnCount = 5,
    IsComplete "code",
    IsUnique "id",
    IsPrimaryKey "id",
    ColumnValues "code" in ["A", "B"],
    ColumnValues "amount" between 0 and 100,
    ColumnValues "name" matches "[a-z]{3}\\d{2}",
    ColumnLength "note" <= 5,
    DistinctValuesCount "code" > 1,
    Uniqueness "name" > 0.5,
    Mean "amount" > 0,
    (RowCount > 10) and (IsComplete "amount")
]`

func newObjectFixture(t *testing.T) *objectFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sources := filepath.Join(dir, "sources")
	if err := os.MkdirAll(sources, 0o750); err != nil {
		t.Fatal(err)
	}
	files, err := objects.NewFileStore([]string{sources})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.CreateDataset(ctx, &dataset.Dataset{
		ID: "qa.items",
		Columns: []dataset.Column{
			{Name: "id", Type: dataset.TypeInt64},
			{Name: "name", Type: dataset.TypeString, PII: true},
			{Name: "code", Type: dataset.TypeString, Nullable: true},
			{Name: "amount", Type: dataset.TypeDecimal, Precision: 10, Scale: 2, Nullable: true},
			{Name: "note", Type: dataset.TypeString, Nullable: true},
		},
		Grade: 2,
	})
	if err != nil {
		t.Fatalf("create the dataset: %v", err)
	}
	svc := NewService(st, files, nil, filepath.Join(dir, "tmp"))
	rs, err := SuiteRules(objectSuite, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateSuite(ctx, "qa", "", rs); err != nil {
		t.Fatal(err)
	}
	return &objectFixture{svc: svc, dir: sources}
}

// validate writes body as an object and validates it with the given way of
// decoding.
func (f *objectFixture) validate(t *testing.T, name string, body []byte, decode csvstream.ParallelOptions) (*suite.Validation, error) {
	t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	f.svc.decode = decode
	return f.svc.ValidateObject(context.Background(), "qa", "file://"+path, "qa.items", csvstream.Format{Header: true, NullValues: []string{""}})
}

// itemsCSV writes n rows whose failures fall all over the file: nulls,
// duplicate ids, codes out of the list, amounts out of range, names that
// do not match, long notes, and notes with quoted commas and line breaks.
// The rows in bad get an amount that is not a decimal.
func itemsCSV(n int, bad ...int) []byte {
	var b bytes.Buffer
	b.WriteString("id,name,code,amount,note\n")
	for i := range n {
		id := i
		if i%97 == 13 {
			id = i - 5 // a duplicate
		}
		name := fmt.Sprintf("abc%02d", i%100)
		if i%31 == 7 {
			name = "ABC1"
		}
		code := []string{"A", "B", "A", "", "C"}[i%5]
		amount := fmt.Sprintf("%d.%02d", i%120, i%100)
		if i%41 == 3 {
			amount = ""
		}
		if slices.Contains(bad, i) {
			amount = "5x"
		}
		note := []string{"ok", "\"a,\nb\"", "\"x\"\"y\"", "longer note", "\"\n\n\""}[i%5]
		fmt.Fprintf(&b, "%d,%s,%s,%s,%s\n", id, name, code, amount, note)
		if i%53 == 0 {
			b.WriteString("\n") // a blank line: not a record
		}
	}
	return b.Bytes()
}

// The parallel decoding of ValidateObject gives exactly the results of the
// sequential one — observed values, failing rows, samples and their row
// numbers — wherever the chunk boundaries fall.
func TestValidateObjectParallelMatchesSequential(t *testing.T) {
	f := newObjectFixture(t)
	body := itemsCSV(3000)
	want, err := f.validate(t, "items.csv", body, csvstream.ParallelOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want.Outcome != suite.Fail || want.RowsEvaluated != 3000 {
		t.Fatalf("sequential: %s over %d rows, want FAIL over 3000", want.Outcome, want.RowsEvaluated)
	}
	if !bytes.Contains(want.RuleResults, []byte(`"FailingRows":600,`)) || !bytes.Contains(want.RuleResults, []byte(`"Row":4,`)) {
		t.Fatalf("sequential results lack IsComplete's 600 failing rows from row 4: %s", want.RuleResults)
	}
	for _, p := range []csvstream.ParallelOptions{
		{Workers: 2, ChunkBytes: 1}, {Workers: 2, ChunkBytes: 37}, {Workers: 3, ChunkBytes: 500},
		{Workers: 4, ChunkBytes: 4096}, {Workers: 2},
	} {
		got, err := f.validate(t, "items.csv", body, p)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if got.Outcome != want.Outcome || got.RowsEvaluated != want.RowsEvaluated || !bytes.Equal(got.RuleResults, want.RuleResults) {
			t.Fatalf("%+v: %s over %d rows:\n%s\nwant %s over %d rows:\n%s", p, got.Outcome, got.RowsEvaluated, got.RuleResults, want.Outcome, want.RowsEvaluated, want.RuleResults)
		}
	}
}

// A bad value stops the validation with the same error, naming its line
// and column, whichever chunk it falls in.
func TestValidateObjectParallelReportsTheFirstBadRow(t *testing.T) {
	f := newObjectFixture(t)
	for _, bad := range [][]int{{0, 1}, {150, 170}, {396, 399}} {
		body := itemsCSV(400, bad...)
		_, want := f.validate(t, "bad.csv", body, csvstream.ParallelOptions{Workers: 1})
		if want == nil || !strings.Contains(want.Error(), `column "amount": "5x" is not a decimal`) {
			t.Fatalf("bad rows %v: sequential error %v", bad, want)
		}
		for _, p := range []csvstream.ParallelOptions{{Workers: 2, ChunkBytes: 1}, {Workers: 3, ChunkBytes: 100}, {Workers: 2}} {
			_, err := f.validate(t, "bad.csv", body, p)
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("bad rows %v, %+v: error %v, want %v", bad, p, err, want)
			}
		}
	}
}

// noAccess is the storage.AccessChecker of a lake without datasets.
type noAccess struct{}

func (noAccess) CanReadAll(context.Context, string) (bool, string) { return false, "no datasets here" }

// discovering gives f's service the storage service's schema discovery
// over f's objects, and returns a context whose caller may read them.
func (f *objectFixture) discovering(t *testing.T) context.Context {
	t.Helper()
	files, err := objects.NewFileStore([]string{f.dir})
	if err != nil {
		t.Fatal(err)
	}
	chores, err := storage.New(storage.Config{
		Store:     files,
		Warehouse: "file://" + filepath.Join(filepath.Dir(f.dir), "warehouse"),
		Tables:    func(context.Context) ([]storage.TableLocation, error) { return nil, nil },
		Access:    noAccess{},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.WithDiscovery(chores)
	return auth.NewContext(t.Context(), &auth.Principal{Name: "eve", Roles: []auth.Role{auth.Engineer}})
}

// suite stores a suite of DQDL text.
func (f *objectFixture) suite(t *testing.T, name, text string) {
	t.Helper()
	rs, err := SuiteRules(text, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateSuite(t.Context(), name, "", rs); err != nil {
		t.Fatal(err)
	}
}

// put writes an object and returns its URI.
func (f *objectFixture) put(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// ruleResults decodes a validation's recorded rule results.
func ruleResults(t *testing.T, v *suite.Validation) []eval.Result {
	t.Helper()
	var out []eval.Result
	if err := json.Unmarshal(v.RuleResults, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The columns of a ';'-delimited object with capitalised headers, a
// decimal and a date, validated without a dataset, are typed by
// discovery and keep their header names: every rule passes with the
// exact observed values, and the result names the object and no dataset.
func TestValidateObjectWithoutDatasetPasses(t *testing.T) {
	f := newObjectFixture(t)
	ctx := f.discovering(t)
	f.suite(t, "untyped", `Rules = [
    ColumnOrder = ["ID", "Name", "Amount", "Joined"],
    ColumnDataType "ID" = "INTEGER",
    ColumnDataType "Amount" = "DECIMAL",
    ColumnDataType "Joined" = "DATE",
    RowCount = 4,
    IsPrimaryKey "ID",
    IsComplete "Name",
    ColumnValues "Amount" between 0 and 100,
    Mean "Amount" = 25.125,
    Sum "Amount" = 100.50,
    ColumnValues "Joined" >= "2024-01-02",
    DistinctValuesCount "Name" = 4
]`)
	uri := f.put(t, "people.csv", "ID;Name;Amount;Joined\n1;abc01;10.50;2024-01-02\n2;abc02;20.25;2024-01-03\n3;abc03;30.00;2024-02-29\n4;abc04;39.75;2024-12-31\n")
	v, err := f.svc.ValidateObject(ctx, "untyped", uri, "", csvstream.Format{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	if v.Outcome != suite.Pass || v.RowsEvaluated != 4 || v.Target != uri || v.Dataset != "" || v.Suite != "untyped" {
		t.Fatalf("validation: %s over %d rows of %q (dataset %q): %s", v.Outcome, v.RowsEvaluated, v.Target, v.Dataset, v.RuleResults)
	}
	want := []string{`["ID", "Name", "Amount", "Joined"]`, "INTEGER", "DECIMAL(4,2)", "DATE", "4", "completeness 1, uniqueness 1", "1", "1", "25.125", "100.5", "1", "4"}
	got := ruleResults(t, v)
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(got), len(want), v.RuleResults)
	}
	for i, r := range got {
		if r.Outcome != eval.Pass || r.Observed != want[i] || r.FailingRows != 0 || len(r.Samples) != 0 {
			t.Errorf("rule %d (%s): %s, observed %q (want %q), %d failing rows, samples %v", i+1, r.Rule, r.Outcome, r.Observed, want[i], r.FailingRows, r.Samples)
		}
	}
	stored, err := f.svc.Validation(ctx, v.ID)
	if err != nil || stored.Target != uri || stored.Outcome != suite.Pass {
		t.Fatalf("the recorded validation: %+v, %v", stored, err)
	}
}

// A rule the object breaks fails with its failing rows and their samples,
// row numbers counted from the first data row; nulls are what the format
// says, whatever the sampled head suggested.
func TestValidateObjectWithoutDatasetFails(t *testing.T) {
	f := newObjectFixture(t)
	ctx := f.discovering(t)
	f.suite(t, "untyped", `Rules = [
    IsComplete "code",
    ColumnValues "amount" <= 20,
    ColumnLength "code" = 1,
    RowCount > 2
]`)
	uri := f.put(t, "items.csv", "id,code,amount\n1,A,5\n2,,25\n3,B,20\n4,CC,21\n5,,7\n")
	v, err := f.svc.ValidateObject(ctx, "untyped", uri, "", csvstream.Format{Header: true, NullValues: []string{""}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Outcome != suite.Fail || v.RowsEvaluated != 5 || v.Target != uri {
		t.Fatalf("validation: %s over %d rows of %q: %s", v.Outcome, v.RowsEvaluated, v.Target, v.RuleResults)
	}
	got := ruleResults(t, v)
	type sample = eval.Sample
	want := []struct {
		outcome  eval.Outcome
		observed string
		failing  int64
		samples  []sample
	}{
		{eval.Fail, "0.6", 2, []sample{{Row: 2, Value: "NULL"}, {Row: 5, Value: "NULL"}}},
		{eval.Fail, "0.6", 2, []sample{{Row: 2, Value: "25"}, {Row: 4, Value: "21"}}},
		{eval.Fail, "0.4", 3, []sample{{Row: 2, Value: "NULL"}, {Row: 4, Value: "CC"}, {Row: 5, Value: "NULL"}}},
		{eval.Pass, "5", 0, nil},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(got), len(want), v.RuleResults)
	}
	for i, w := range want {
		r := got[i]
		if r.Outcome != w.outcome || r.Observed != w.observed || r.FailingRows != w.failing || !slices.Equal(r.Samples, w.samples) {
			t.Errorf("rule %d (%s): %s, observed %q, %d failing rows, samples %v; want %s, %q, %d, %v",
				i+1, r.Rule, r.Outcome, r.Observed, r.FailingRows, r.Samples, w.outcome, w.observed, w.failing, w.samples)
		}
	}
}

// Without a dataset, a ReferentialIntegrity rule is refused before the
// object is read, as INVALID_ARGUMENT naming the rule; a bad URI names
// sourceUri; a missing object is NOT_FOUND; a service that cannot
// discover schemas still needs a dataset; and a value past the sampled
// head that its discovered type cannot hold stops the validation, saying
// how the column was typed.
func TestValidateObjectWithoutDatasetRefuses(t *testing.T) {
	f := newObjectFixture(t)
	if _, err := f.svc.ValidateObject(t.Context(), "qa", f.put(t, "a.csv", "id\n1\n"), "", csvstream.Format{Header: true}); errcode.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "dataset: is required") {
		t.Fatalf("without discovery: %v", err)
	}
	ctx := f.discovering(t)
	f.suite(t, "refs", `Rules = [ RowCount > 0, (IsComplete "id") or (ReferentialIntegrity "id" "qa.items.id" = 1.0) ]`)
	_, err := f.svc.ValidateObject(ctx, "refs", "file://"+filepath.Join(f.dir, "never-read.csv"), "", csvstream.Format{Header: true})
	fields := fault.FieldErrors(err)
	if errcode.Code(err) != codes.InvalidArgument || len(fields) != 1 || fields[0].Field != "dataset" ||
		!strings.Contains(err.Error(), `rule 2 (ReferentialIntegrity "id" "qa.items.id" = 1.0)`) {
		t.Fatalf("a ReferentialIntegrity rule without a dataset: %v", err)
	}

	for _, tc := range []struct {
		uri   string
		code  codes.Code
		field string
	}{
		{"ftp://host/items.csv", codes.InvalidArgument, "sourceUri"},
		{"file://" + filepath.Join(f.dir, "missing.csv"), codes.NotFound, ""},
		{"file:///etc/passwd", codes.PermissionDenied, ""},
	} {
		_, err := f.svc.ValidateObject(ctx, "qa", tc.uri, "", csvstream.Format{Header: true})
		fields := fault.FieldErrors(err)
		if errcode.Code(err) != tc.code || (tc.field != "" && (len(fields) != 1 || fields[0].Field != tc.field)) || !strings.Contains(err.Error(), tc.uri) {
			t.Errorf("source %s: %v (%s), want %s naming %q", tc.uri, err, errcode.Code(err), tc.code, tc.field)
		}
	}
	if _, err := f.svc.ValidateObject(ctx, "qa", f.put(t, "empty.csv", ""), "", csvstream.Format{Header: true}); errcode.Code(err) != codes.InvalidArgument ||
		len(fault.FieldErrors(err)) != 1 || fault.FieldErrors(err)[0].Field != "sourceUri" {
		t.Fatalf("an empty object: %v", err)
	}

	var b strings.Builder
	b.WriteString("id,amount\n")
	for i := range storage.DefaultSampleRows + 5 {
		amount := strconv.Itoa(i)
		if i == storage.DefaultSampleRows+2 {
			amount = "7.5"
		}
		fmt.Fprintf(&b, "%d,%s\n", i, amount)
	}
	f.suite(t, "amounts", `Rules = [ ColumnValues "amount" >= 0 ]`)
	_, err = f.svc.ValidateObject(ctx, "amounts", f.put(t, "long.csv", b.String()), "", csvstream.Format{Header: true})
	if errcode.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), fmt.Sprintf(`line %d, column "amount": "7.5" is not an int32`, storage.DefaultSampleRows+4)) ||
		!strings.Contains(err.Error(), "typed by discovering the schema") {
		t.Fatalf("a value past the head its discovered type cannot hold: %v", err)
	}
}
