package csvstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// decodeProjected decodes input keeping only the columns named in keep,
// sequentially (popts nil) or in parallel, with a checked allocator.
func decodeProjected(t *testing.T, input []byte, cols []Column, f Format, keep []string, popts *ParallelOptions) ([][]string, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(bytes.NewReader(input), cols, f, Options{Allocator: mem, BatchRows: 4})
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	if err := d.Project(keep); err != nil {
		t.Fatalf("Project(%q): %v", keep, err)
	}
	var out [][]string
	add := func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(d.Schema()) {
			t.Errorf("batch schema %v, want %v", rec.Schema(), d.Schema())
		}
		out = append(out, rows(t, rec)...)
		return nil
	}
	if popts != nil {
		return out, d.DecodeParallel(context.Background(), *popts, add)
	}
	for {
		rec, err := d.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		add(rec)
		rec.Release()
	}
}

// TestProjectKeepsTheNamedColumns checks that a projected decoder gives
// the kept columns' values exactly as a full decode does and nulls in the
// others, sequentially and at every chunk shape.
func TestProjectKeepsTheNamedColumns(t *testing.T) {
	input := customerCSV(200)
	cols := customerColumns()
	keep := []string{"customer_id", "name", "rrn", "gender", "policy_no", "premium"}
	full := mustDecode(t, string(input), cols, Format{Header: true})
	want := make([][]string, len(full))
	for r, row := range full {
		want[r] = make([]string, len(row))
		for c, v := range row {
			want[r][c] = null
			if slices.Contains(keep, cols[c].Name) {
				want[r][c] = v
			}
		}
	}
	got, err := decodeProjected(t, input, cols, Format{Header: true}, keep, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("sequential: err %v, rows equal %v", err, reflect.DeepEqual(got, want))
	}
	for _, p := range parallelShapes {
		got, err := decodeProjected(t, input, cols, Format{Header: true}, keep, &p)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("parallel %+v: err %v, rows equal %v", p, err, reflect.DeepEqual(got, want))
		}
	}
}

// TestProjectChecksOnlyTheKeptColumns checks which errors a projection
// still reports: values of kept columns (bad values, nulls in non-nullable
// columns, invalid UTF-8) and record shape; not values of skipped columns.
func TestProjectChecksOnlyTheKeptColumns(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	}
	keep := []string{"id", "name"}
	cases := []struct {
		name, input string
		want        string // the error, "" for none
	}{
		{"bad value in a skipped column", "id,name,day\n1,a,2024-02-30\n2,b,\n", ""},
		{"invalid UTF-8 in a skipped column", "id,name,day\n1,a,\xff\n", ""},
		{"bad value in a kept column", "id,name,day\n1,a,\nx,b,2024-01-01\n", `line 3, column "id"`},
		{"null in a kept non-nullable column", "id,name,day\n1,a,\n,b,\n", `line 3, column "id"`},
		{"invalid UTF-8 in a kept column", "id,name,day\n1,a\xff,\n", `line 2, column "name"`},
		{"wrong field count", "id,name,day\n1,a,\n2,b\n", "line 3"},
		{"bare quote in a skipped column", "id,name,day\n1,a,x\"y\n", "line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shapes := append([]*ParallelOptions{nil}, &ParallelOptions{Workers: 2, ChunkBytes: 1}, &ParallelOptions{Workers: 2})
			for _, p := range shapes {
				_, err := decodeProjected(t, []byte(c.input), cols, Format{Header: true}, keep, p)
				switch {
				case c.want == "" && err != nil:
					t.Errorf("parallel %v: unexpected error %v", p != nil, err)
				case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
					t.Errorf("parallel %v: error %v, want one naming %s", p != nil, err, c.want)
				}
			}
		})
	}
}

func TestProjectRefusals(t *testing.T) {
	cols := strCols("a", "b")
	d, err := NewDecoder(strings.NewReader("a,b\n1,2\n"), cols, Format{Header: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Project([]string{"a", "c"}); err == nil || !strings.Contains(err.Error(), `"c" is not a column`) {
		t.Fatalf("Project of an unknown column: %v", err)
	}
	rec, err := d.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got := fmt.Sprint(rows(t, rec)); got != "[[1 2]]" {
		t.Fatalf("a refused Project changed decoding: %s", got)
	}
	if err := d.Project([]string{"a"}); err == nil {
		t.Fatal("Project after the first batch was accepted")
	}
}

// TestProjectRowErrorHasEveryField checks that the error of a bad kept
// value still carries the whole record, skipped fields unquoted too.
func TestProjectRowErrorHasEveryField(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "note", Type: arrow.BinaryTypes.String},
		{Name: "name", Type: arrow.BinaryTypes.String},
	}
	input := "id,note,name\n1,\"a \"\"b\"\"\",\"c \"\"d\"\"\"\nx,\"e \"\"f\"\"\",g\n"
	for _, p := range []*ParallelOptions{nil, {Workers: 2, ChunkBytes: 1}} {
		got, err := decodeProjected(t, []byte(input), cols, Format{Header: true}, []string{"id", "name"}, p)
		var re *RowError
		if !errors.As(err, &re) {
			t.Fatalf("parallel %v: error %v, want a RowError", p != nil, err)
		}
		if re.Line != 3 || re.Column != "id" || !reflect.DeepEqual(re.Raw, []string{"x", `e "f"`, "g"}) {
			t.Errorf("parallel %v: RowError line %d column %q raw %q", p != nil, re.Line, re.Column, re.Raw)
		}
		if len(got) > 0 && !reflect.DeepEqual(got[0], []string{"1", null, `c "d"`}) {
			t.Errorf("parallel %v: first row %q", p != nil, got[0])
		}
	}
}
