package csvstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const null = "<null>"

// cell renders one value of a batch for comparison in tests.
func cell(t testing.TB, a arrow.Array, i int) string {
	t.Helper()
	if a.IsNull(i) {
		return null
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC().Format(time.RFC3339Nano)
	}
	t.Fatalf("unexpected array type %T", a)
	return ""
}

// rows renders a batch as rows of cells.
func rows(t testing.TB, rec arrow.RecordBatch) [][]string {
	t.Helper()
	out := make([][]string, rec.NumRows())
	for r := range out {
		out[r] = make([]string, rec.NumCols())
		for c := range out[r] {
			out[r][c] = cell(t, rec.Column(c), r)
		}
	}
	return out
}

// result is everything decoding a whole input produced.
type result struct {
	rows    [][]string
	batches []int      // rows per batch
	bad     []RowError // rows passed to OnBadRow, when collecting
	err     error      // the error that ended decoding (nil at io.EOF)
	stats   Stats
}

// decodeAll decodes input to the end with a checked allocator and checks
// that every buffer was released. With collect set, bad rows are gathered
// through OnBadRow instead of stopping decoding.
func decodeAll(t testing.TB, input []byte, cols []Column, f Format, opts Options, collect bool) (result, error) {
	t.Helper()
	return decodeReader(t, bytes.NewReader(input), cols, f, opts, collect)
}

func decodeReader(t testing.TB, r io.Reader, cols []Column, f Format, opts Options, collect bool) (result, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.Allocator = mem
	var res result
	if collect {
		opts.OnBadRow = func(re *RowError) error {
			res.bad = append(res.bad, *re)
			return nil
		}
	}
	d, err := NewDecoder(r, cols, f, opts)
	if err != nil {
		return res, err
	}
	for {
		rec, err := d.Next(context.Background())
		if err != nil {
			if !errors.Is(err, io.EOF) {
				res.err = err
			}
			if _, again := d.Next(context.Background()); again != err {
				t.Errorf("Next after %v returned %v", err, again)
			}
			break
		}
		if !rec.Schema().Equal(d.Schema()) {
			t.Errorf("batch schema %v, want %v", rec.Schema(), d.Schema())
		}
		res.batches = append(res.batches, int(rec.NumRows()))
		res.rows = append(res.rows, rows(t, rec)...)
		rec.Release()
	}
	res.stats = d.Stats()
	return res, nil
}

// mustDecode decodes input and fails the test on any error.
func mustDecode(t testing.TB, input string, cols []Column, f Format) [][]string {
	t.Helper()
	res, err := decodeAll(t, []byte(input), cols, f, Options{}, false)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	if res.err != nil {
		t.Fatalf("Next: %v", res.err)
	}
	return res.rows
}

// firstError decodes input and returns the RowError that stopped it.
func firstError(t testing.TB, input string, cols []Column, f Format) *RowError {
	t.Helper()
	res, err := decodeAll(t, []byte(input), cols, f, Options{}, false)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	var re *RowError
	if !errors.As(res.err, &re) {
		t.Fatalf("decoding %q: got error %v, want a *RowError", input, res.err)
	}
	return re
}

func col(name string, typ arrow.DataType) Column {
	return Column{Name: name, Type: typ, Nullable: true}
}

func strCols(names ...string) []Column {
	out := make([]Column, len(names))
	for i, n := range names {
		out[i] = col(n, arrow.BinaryTypes.String)
	}
	return out
}
