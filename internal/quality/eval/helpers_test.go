package eval

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

// testCols is the small dataset of the rule tests.
var testCols = []csvstream.Column{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, PII: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "code", Type: arrow.BinaryTypes.String, Nullable: true},
}

const testCSV = `id,name,amount,score,d,ts,code
1,Kim,10.50,1.5,2024-01-01,2024-01-01T00:00:00Z,A
2,Lee,20.25,2.5,2024-02-01,2024-06-01T00:00:00Z,B
3,Parkson,,3.5,2024-03-01,,C
4,Choi,30.00,,2024-04-01,2024-06-02T00:00:00Z,
5,Jung,40.00,4.5,,2024-06-03T00:00:00Z,A
`

var testNow = time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)

// mapRefs is an in-memory ReferenceLookup: by "dataset.col1,col2", the
// keys, their values joined by ",".
type mapRefs map[string]map[string]bool

func (m mapRefs) ReferenceKeys(_ context.Context, dataset string, columns []string, add func(key []string) error) error {
	for k := range m[dataset+"."+strings.Join(columns, ",")] {
		if err := add(strings.Split(k, ",")); err != nil {
			return err
		}
	}
	return nil
}

// validate runs text over csv decoded with cols (batches of batchRows).
// It runs the suite twice, once over every column and once over only the
// columns the evaluator says it reads (csvstream's projection, as
// ValidateObject decodes), and fails the test when the results differ.
func validate(t testing.TB, text, csv string, cols []csvstream.Column, batchRows int, opts Options) []Result {
	t.Helper()
	full := validateOnce(t, text, csv, cols, batchRows, opts, false)
	projected := validateOnce(t, text, csv, cols, batchRows, opts, true)
	if !reflect.DeepEqual(full, projected) {
		t.Fatalf("decoding only the columns read changes the results of %s:\n%+v\nwant\n%+v", text, projected, full)
	}
	return full
}

func validateOnce(t testing.TB, text, csv string, cols []csvstream.Column, batchRows int, opts Options, project bool) []Result {
	t.Helper()
	rs, err := dqdl.Parse(text)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ctx := context.Background()
	dec, err := csvstream.NewDecoder(strings.NewReader(csv), cols, csvstream.Format{Header: true, NullValues: []string{""}}, csvstream.Options{BatchRows: batchRows})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Header == nil {
		opts.Header = strings.Split(strings.SplitN(csv, "\n", 2)[0], ",")
	}
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	ev, err := New(ctx, rs, dec.Schema(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if project {
		if err := dec.Project(ev.ColumnsRead()); err != nil {
			t.Fatal(err)
		}
	}
	for {
		rec, err := dec.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	return ev.Finish(ctx)
}
