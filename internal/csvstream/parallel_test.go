package csvstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// decodeParallelAll decodes input with DecodeParallel and a checked
// allocator, and checks that every buffer was released.
func decodeParallelAll(t testing.TB, r io.Reader, cols []Column, f Format, opts Options, popts ParallelOptions) (result, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.Allocator = mem
	var res result
	d, err := NewDecoder(r, cols, f, opts)
	if err != nil {
		return res, err
	}
	res.err = d.DecodeParallel(context.Background(), popts, func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(d.Schema()) {
			t.Errorf("batch schema %v, want %v", rec.Schema(), d.Schema())
		}
		if rec.NumRows() == 0 || rec.NumRows() > int64(max(opts.BatchRows, 1)) && opts.BatchRows > 0 {
			t.Errorf("batch of %d rows (BatchRows %d)", rec.NumRows(), opts.BatchRows)
		}
		res.batches = append(res.batches, int(rec.NumRows()))
		res.rows = append(res.rows, rows(t, rec)...)
		return nil
	})
	if _, again := d.Next(context.Background()); res.err == nil && again != io.EOF || res.err != nil && again != res.err {
		t.Errorf("Next after DecodeParallel returned %v, want %v", again, res.err)
	}
	res.stats = d.Stats()
	return res, nil
}

// sequentialReference decodes input one row per batch, so that every good
// row before the first error is seen.
func sequentialReference(t testing.TB, input []byte, cols []Column, f Format, opts Options) result {
	t.Helper()
	opts.BatchRows = 1
	want, err := decodeAll(t, input, cols, f, opts, false)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	return want
}

// checkSameAsSequential checks that parallel decoding of input gives the
// rows and the error of sequential decoding: every row on success, and on
// an error the same error after a prefix of the rows before it (batches
// end at chunk ends, so fewer of them may have been handed over).
func checkSameAsSequential(t *testing.T, input []byte, cols []Column, f Format, opts Options, popts ParallelOptions) {
	t.Helper()
	want := sequentialReference(t, input, cols, f, opts)
	got, err := decodeParallelAll(t, bytes.NewReader(input), cols, f, opts, popts)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	if fmt.Sprint(got.err) != fmt.Sprint(want.err) || !reflect.DeepEqual(asRowError(got.err), asRowError(want.err)) {
		t.Fatalf("chunks of %d bytes, %d workers: error\n%v\nwant\n%v", popts.ChunkBytes, popts.Workers, got.err, want.err)
	}
	if want.err == nil && !reflect.DeepEqual(got.rows, want.rows) {
		t.Fatalf("chunks of %d bytes, %d workers: %d rows differ from the %d decoded sequentially\n%q\n%q", popts.ChunkBytes, popts.Workers, len(got.rows), len(want.rows), got.rows, want.rows)
	}
	if want.err != nil && len(got.rows) > 0 && (len(got.rows) > len(want.rows) || !reflect.DeepEqual(got.rows, want.rows[:len(got.rows)])) {
		t.Fatalf("chunks of %d bytes, %d workers: the rows before the error are not those decoded sequentially\n%q\n%q", popts.ChunkBytes, popts.Workers, got.rows, want.rows)
	}
	if want.err == nil && got.stats.RowsRead != int64(len(want.rows)) {
		t.Fatalf("Stats().RowsRead = %d, want %d", got.stats.RowsRead, len(want.rows))
	}
}

func asRowError(err error) *RowError {
	var re *RowError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

var parallelShapes = []ParallelOptions{
	{Workers: 1, ChunkBytes: 1}, {Workers: 2, ChunkBytes: 1}, {Workers: 3, ChunkBytes: 7},
	{Workers: 2, ChunkBytes: 64}, {Workers: 4, ChunkBytes: 1000}, {Workers: 2},
}

func TestDecodeParallelMatchesSequential(t *testing.T) {
	typed := []Column{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		col("note", arrow.BinaryTypes.String),
		col("day", arrow.FixedWidthTypes.Date32),
	}
	cases := []struct {
		name  string
		input string
		cols  []Column
		f     Format
	}{
		{"quoted newlines", "id,note,day\n1,\"a\nb\",2024-01-01\n2,\"\"\"q\"\"\n\n\",\n3,plain,2024-02-29\n", typed, Format{Header: true}},
		{"crlf and blank lines", "id,note,day\r\n\r\n1,x,2024-01-01\r\n\n\n2,\"y\r\nz\",\r\n3,,\r\n", typed, Format{Header: true}},
		{"no final newline", "1,a,\n2,\"b\nc\",2024-01-02", typed, Format{}},
		{"bom without header", "\xEF\xBB\xBF1,a,\n2,b,\n", typed, Format{}},
		{"bom with header", "\xEF\xBB\xBFid,note,day\n1,a,\n", typed, Format{Header: true}},
		{"bad value late", "id,note,day\n1,a,\n2,\"b\nb\",\n3,c,\n4,d,2024-02-30\n5,e,\n", typed, Format{Header: true}},
		{"bad value first", "id,note,day\nx,a,\n2,b,\n", typed, Format{Header: true}},
		{"bare quote", "1,a,\n2,b\"c,\n3,\"d\ne\",\n", typed, Format{}},
		{"text after a closing quote", "1,a,\n2,\"b\"c\"\nd,\n3,e,\n", typed, Format{}},
		{"quote left open", "1,a,\n2,\"b,\n3,c,\n4,d,\n", typed, Format{}},
		{"wrong field count", "1,a,\n2,b\n3,c,\n", typed, Format{}},
		{"header only", "id,note,day\n", typed, Format{Header: true}},
		{"empty", "", typed, Format{}},
		{"lone carriage returns", "1,a\r,\r\n2,\"b\rc\",\r", typed, Format{}},
		{"tab and single quote", "1\t'a\tb\nc'\t\n2\t'd''e'\t2024-01-01\n", typed, Format{Delimiter: '\t', Quote: '\''}},
		{"null tokens", "1,NULL,NULL\n2,\"NULL\",\n", typed, Format{NullValues: []string{"NULL", ""}}},
		{"customers", string(customerCSV(300)), customerColumns(), Format{Header: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range parallelShapes {
				checkSameAsSequential(t, []byte(c.input), c.cols, c.f, Options{BatchRows: 5}, p)
			}
		})
	}
}

func TestDecodeParallelCP949(t *testing.T) {
	src := []byte("id,note,day\n1,\"\xc8\xab\n\xb1\xe6\xb5\xbf\",\n2,\"a,\xb1\xe6\",2024-01-01\n")
	cols := []Column{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, col("note", arrow.BinaryTypes.String), col("day", arrow.FixedWidthTypes.Date32)}
	for _, p := range parallelShapes {
		checkSameAsSequential(t, src, cols, Format{Header: true, Encoding: CP949}, Options{}, p)
	}
	got := mustDecode(t, string(src), cols, Format{Header: true, Encoding: CP949})
	if got[0][1] != "홍\n길동" || got[1][1] != "a,길" {
		t.Fatalf("decoded %q", got)
	}
}

// A record longer than MaxRecordBytes is reported as sequential decoding
// reports it, wherever the chunks fall.
func TestDecodeParallelRecordTooLong(t *testing.T) {
	long := "1,\"" + strings.Repeat("x\n", 40) + "\",\n"
	input := []byte("0,a,\n" + long + "2,b,\n")
	cols := []Column{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, col("note", arrow.BinaryTypes.String), col("day", arrow.FixedWidthTypes.Date32)}
	for _, p := range parallelShapes {
		checkSameAsSequential(t, input, cols, Format{}, Options{MaxRecordBytes: 32}, p)
	}
	re := asRowError(sequentialReference(t, input, cols, Format{}, Options{MaxRecordBytes: 32}).err)
	if re == nil || re.Line != 2 || !strings.Contains(re.Reason, "longer than 32 bytes") {
		t.Fatalf("sequential decoding reported %v", re)
	}
}

func TestDecodeParallelSlowReader(t *testing.T) {
	input := customerCSV(200)
	want := sequentialReference(t, input, customerColumns(), Format{Header: true}, Options{})
	got, err := decodeParallelAll(t, iotest.HalfReader(bytes.NewReader(input)), customerColumns(), Format{Header: true}, Options{}, ParallelOptions{Workers: 3, ChunkBytes: 333})
	if err != nil || got.err != nil {
		t.Fatal(err, got.err)
	}
	if !reflect.DeepEqual(got.rows, want.rows) {
		t.Fatalf("rows differ")
	}
}

func TestDecodeParallelReadError(t *testing.T) {
	boom := errors.New("boom")
	input := customerCSV(2000)
	r := io.MultiReader(bytes.NewReader(input[:len(input)/2]), iotest.ErrReader(boom))
	got, err := decodeParallelAll(t, r, customerColumns(), Format{Header: true}, Options{}, ParallelOptions{Workers: 2, ChunkBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got.err, boom) || !strings.Contains(got.err.Error(), "reading line") {
		t.Fatalf("got %v, want the read error with its line", got.err)
	}
}

// fn's error stops decoding; every batch in flight is released (the
// checked allocator of decodeParallelAll's kind would catch a leak).
func TestDecodeParallelStopsOnCallbackError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(bytes.NewReader(customerCSV(2000)), customerColumns(), Format{Header: true}, Options{Allocator: mem, BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = d.DecodeParallel(context.Background(), ParallelOptions{Workers: 3, ChunkBytes: 4000}, func(arrow.RecordBatch) error {
		if calls++; calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Fatalf("DecodeParallel = %v after %d calls, want %v after 3", err, calls, stop)
	}
}

func TestDecodeParallelCancelled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(bytes.NewReader(customerCSV(2000)), customerColumns(), Format{Header: true}, Options{Allocator: mem, BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err = d.DecodeParallel(ctx, ParallelOptions{Workers: 2, ChunkBytes: 4000}, func(arrow.RecordBatch) error {
		if calls++; calls == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Fatalf("DecodeParallel = %v after %d calls, want context.Canceled after 2", err, calls)
	}
}

func TestDecodeParallelRefusesOnBadRow(t *testing.T) {
	d, err := NewDecoder(strings.NewReader("1\n"), strCols("a"), Format{}, Options{OnBadRow: func(*RowError) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeParallel(context.Background(), ParallelOptions{}, func(arrow.RecordBatch) error { return nil }); err == nil {
		t.Fatal("DecodeParallel with OnBadRow did not fail")
	}
}

func TestLastBoundary(t *testing.T) {
	for _, c := range []struct {
		data string
		want int
	}{
		{"", 0}, {"abc", 0}, {"a\n", 2}, {"a\nb", 2}, {"\"a\nb", 0}, {"\"a\"\nb\n\"c\n", 6},
		{"a,\"x\ny\"\nb", 8}, {"\"\"\"\n", 0}, {"\"\"\"\"\n", 5},
	} {
		if got := lastBoundary([]byte(c.data), '"'); got != c.want {
			t.Errorf("lastBoundary(%q) = %d, want %d", c.data, got, c.want)
		}
	}
}

// FuzzDecodeParallel checks parallel decoding against sequential decoding
// on arbitrary bytes, with chunk boundaries everywhere.
func FuzzDecodeParallel(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	f.Add([]byte("a,\"b\nc\",d\n\"e\"\"\n\",f,g\n"), uint8(1), uint8(3))
	strings3 := strCols("a", "b", "c")
	typed := []Column{
		col("i", arrow.PrimitiveTypes.Int32),
		col("d", &arrow.Decimal128Type{Precision: 19, Scale: 2}),
		col("s", arrow.BinaryTypes.String),
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk, workers uint8) {
		p := ParallelOptions{Workers: int(workers%4) + 1, ChunkBytes: int(chunk%64) + 1}
		checkSameAsSequential(t, data, strings3, Format{}, Options{BatchRows: 3}, p)
		checkSameAsSequential(t, append([]byte("s,i,d\n"), data...), typed, Format{Header: true}, Options{BatchRows: 2, MaxRecordBytes: 24}, p)
		checkSameAsSequential(t, data, strings3, Format{Delimiter: '\t', Quote: '\''}, Options{}, p)
	})
}
