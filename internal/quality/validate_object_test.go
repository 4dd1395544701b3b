package quality

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
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
