package cost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
	"github.com/lakeplane/lakeplane/internal/store"
)

// utc returns the time of an RFC 3339 text.
func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// writeParquet writes rows (one value per field of sc, nil for null) as a
// Parquet file of row groups of at most two rows; writeParquetGroups of at
// most groupRows. Values are strings,
// float64s, time.Times, map[string]string (for MAP columns) and, for
// DECIMAL columns, decimal text.
func writeParquet(t testing.TB, sc *arrow.Schema, rows [][]any) []byte {
	t.Helper()
	return writeParquetGroups(t, sc, rows, 2)
}

func writeParquetGroups(t testing.TB, sc *arrow.Schema, rows [][]any, groupRows int64) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for _, row := range rows {
		for j, v := range row {
			fb := b.Field(j)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.Decimal128Builder:
				dt := sc.Field(j).Type.(*arrow.Decimal128Type)
				n, err := decimal128.FromString(v.(string), dt.Precision, dt.Scale)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(n)
			case *array.TimestampBuilder:
				unit := sc.Field(j).Type.(*arrow.TimestampType).Unit
				ts, err := arrow.TimestampFromTime(v.(time.Time), unit)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(ts)
			case *array.MapBuilder:
				m := v.(map[string]string)
				fb.Append(true)
				for _, k := range slices.Sorted(maps.Keys(m)) {
					fb.KeyBuilder().(*array.StringBuilder).Append(k)
					fb.ItemBuilder().(*array.StringBuilder).Append(m[k])
				}
			default:
				t.Fatalf("field %s: no test builder for %T", sc.Field(j).Name, fb)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sc, &buf, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(groupRows)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nullableFields returns the nullable fields of alternating names and
// types.
func nullableFields(nameTypes ...any) []arrow.Field {
	var out []arrow.Field
	for i := 0; i+1 < len(nameTypes); i += 2 {
		out = append(out, arrow.Field{Name: nameTypes[i].(string), Type: nameTypes[i+1].(arrow.DataType), Nullable: true})
	}
	return out
}

// curLineItemFields are the fields of a line item's identity, type, time
// and product in a CUR Parquet file whose times are of type ts.
func curLineItemFields(ts arrow.DataType) []arrow.Field {
	str := arrow.BinaryTypes.String
	return nullableFields(
		"identity_line_item_id", str,
		"identity_time_interval", str,
		"line_item_line_item_type", str,
		"line_item_usage_start_date", ts,
		"line_item_usage_end_date", ts,
		"line_item_product_code", str,
		"line_item_usage_type", str,
	)
}

// cur2Parquet is cur2CSV as a CUR 2.0 Parquet file, with resource_tags a
// MAP column, times as timestamps, and the unblended cost a DOUBLE or,
// when decimalCost, a DECIMAL(38, 12). It has two columns the import does
// not read, one of them before the others.
func cur2Parquet(t testing.TB, decimalCost bool) []byte {
	str := arrow.BinaryTypes.String
	ts := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	var costType arrow.DataType = arrow.PrimitiveTypes.Float64
	cost := func(s string, f float64) any { return f }
	if decimalCost {
		costType = &arrow.Decimal128Type{Precision: 38, Scale: 12}
		cost = func(s string, f float64) any { return s }
	}
	sc := arrow.NewSchema(slices.Concat(nullableFields("bill_payer_account_id", str), curLineItemFields(ts), nullableFields(
		"line_item_operation", str,
		"line_item_resource_id", str,
		"line_item_usage_amount", arrow.PrimitiveTypes.Float64,
		"line_item_unblended_cost", costType,
		"line_item_currency_code", str,
		"pricing_unit", str,
		"product_servicecode", str,
		"resource_tags", arrow.MapOf(str, str),
	)), nil)
	data := map[string]string{"user_team": "data", "user_dataset": "sales.orders"}
	return writeParquet(t, sc, [][]any{
		{"123", "li-1", "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z", "Usage", utc("2026-01-01T00:00:00Z"), utc("2026-01-01T01:00:00Z"),
			"AWSGlue", "USE1-ETL-DPU-Hour", "Jobrun", "arn:aws:glue:us-east-1:1:job/nightly", 2.5, cost("1.1", 1.1), "USD", "DPU-Hour", "AWSGlue", data},
		{"123", "li-2", "2026-01-02T00:00:00Z/2026-01-02T01:00:00Z", "Usage", utc("2026-01-02T00:00:00Z"), utc("2026-01-02T01:00:00Z"),
			"AmazonAthena", "USE1-DataScannedInTB", "RunQuery", "arn:aws:athena:us-east-1:1:workgroup/primary", 0.002, cost("0.0123456785", 0.0123456785), "USD", "Terabytes", "AmazonAthena",
			map[string]string{"user_team": "bi", "user_note": "a, b"}},
		{"123", "li-3", "2026-02-01T00:00:00Z/2026-02-01T01:00:00Z", "Usage", utc("2026-02-01T00:00:00Z"), utc("2026-02-01T01:00:00Z"),
			"AWSGlue", "USE1-ETL-DPU-Hour", "Jobrun", "arn:aws:glue:us-east-1:1:job/nightly", 5.0, cost("2.2", 2.2), "USD", "DPU-Hour", "AWSGlue", data},
		{"123", "li-4", "2026-02-01T00:00:00Z/2026-03-01T00:00:00Z", "Tax", utc("2026-02-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"),
			"AWSGlue", nil, nil, nil, nil, cost("0.33", 0.33), "USD", nil, "AWSGlue", nil},
		{"123", "li-5", "2026-02-03T00:00:00Z/2026-02-03T01:00:00Z", "Credit", utc("2026-02-03T00:00:00Z"), utc("2026-02-03T01:00:00Z"),
			"AWSGlue", "USE1-ETL-DPU-Hour", "Jobrun", "arn:aws:glue:us-east-1:1:job/nightly", 0.0, cost("-0.05", -0.05), "USD", "DPU-Hour", "AWSGlue",
			map[string]string{"user_team": "data"}},
	})
}

// legacyParquet is legacyCSV as legacy CUR's Parquet export: lower_snake
// names, timestamps without a time zone, DOUBLE amounts, and one
// resource_tags_user_... column per tag.
func legacyParquet(t testing.TB) []byte {
	str := arrow.BinaryTypes.String
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	f64 := arrow.PrimitiveTypes.Float64
	sc := arrow.NewSchema(slices.Concat(curLineItemFields(ts), nullableFields(
		"line_item_resource_id", str,
		"line_item_usage_amount", f64,
		"line_item_unblended_cost", f64,
		"line_item_currency_code", str,
		"pricing_unit", str,
		"resource_tags_user_team", str,
		"resource_tags_user_dataset", str,
	)), nil)
	return writeParquet(t, sc, [][]any{
		{"L1", "2026-01-05T00:00:00Z/2026-01-06T00:00:00Z", "Usage", utc("2026-01-05T00:00:00Z"), utc("2026-01-06T00:00:00Z"), "AmazonSageMaker",
			"USE1-Notebk:ml.t3.medium", "arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1", 24.0, 1.2, "USD", "Hrs", "ml", ""},
		{"L2", "2026-01-06T00:00:00Z/2026-01-07T00:00:00Z", "Usage", utc("2026-01-06T00:00:00Z"), utc("2026-01-07T00:00:00Z"), "AmazonS3",
			"TimedStorage-ByteHrs", "lake", 0.00001, 0.000000001, "USD", "GB-Mo", "data", "sales.orders"},
		{"L3", "2026-02-06T00:00:00Z/2026-02-06T12:00:00Z", "Usage", utc("2026-02-06T00:00:00Z"), utc("2026-02-06T12:00:00Z"), "AmazonSageMaker",
			"USE1-Notebk:ml.t3.medium", "arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1", 12.0, 0.6, "USD", "Hrs", "ml", nil},
	})
}

// TestImportCURParquet imports CUR 2.0 and legacy CUR Parquet files from
// file:// (found by their PAR1 magic) and s3:// (by their .parquet name)
// and matches the hand-computed totals of the CSV files they hold.
func TestImportCURParquet(t *testing.T) {
	cur2Items := []string{"arn:aws:glue:us-east-1:1:job/nightly=3.25/3", "AWSGlue=0.33/1", "arn:aws:athena:us-east-1:1:workgroup/primary=0.012345679/1"}
	for _, tc := range []struct {
		name  string
		data  func(t testing.TB) []byte
		n     int64
		total string
		items []string
	}{
		{"CUR 2.0 double cost", func(t testing.TB) []byte { return cur2Parquet(t, false) }, 5, "3.592345679", cur2Items},
		{"CUR 2.0 decimal cost", func(t testing.TB) []byte { return cur2Parquet(t, true) }, 5, "3.592345679", cur2Items},
		{"legacy", legacyParquet, 3, "1.800000001",
			[]string{"arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1=1.8/2", "lake=0.000000001/1"}},
	} {
		for _, where := range []string{"file", "s3"} {
			t.Run(tc.name+" from "+where, func(t *testing.T) {
				f := newFixture(t, where == "s3")
				name := "cur-00001.snappy"
				if where == "s3" {
					name = "s3/cur/data/cur-00001.snappy.parquet"
				}
				f.importCURTwice(t, f.put(t, name, tc.data(t)), tc.n, tc.total, tc.items...)
			})
		}
	}
}

// TestImportCURParquetSameAsCSV imports each Parquet file and the CSV file
// it holds into two stores: every report cut and every record is the same
// (but the tag attributes of legacy CUR, keyed as each file names them).
func TestImportCURParquetSameAsCSV(t *testing.T) {
	for _, tc := range []struct {
		name    string
		csv     string
		parquet []byte
		n       int64
	}{
		{"CUR 2.0", cur2CSV, cur2Parquet(t, false), 5},
		{"CUR 2.0 decimal cost", cur2CSV, cur2Parquet(t, true), 5},
		{"legacy", legacyCSV, legacyParquet(t), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc, fp := newFixture(t, false), newFixture(t, false)
			fc.importOK(t, FormatCUR, fc.put(t, "cur.csv", []byte(tc.csv)), false, tc.n, 0)
			fp.importOK(t, FormatCUR, fp.put(t, "cur.parquet", tc.parquet), false, tc.n, 0)
			for _, g := range store.UsageGroupBys {
				c, p := fc.report(t, g), fp.report(t, g)
				assertStrings(t, string(g), itemCosts(p), itemCosts(c)...)
				assertStrings(t, string(g)+" months", monthCosts(p), monthCosts(c)...)
			}
			ids := csvRecordIDs(t, tc.csv)
			if len(ids) != int(tc.n) {
				t.Fatalf("CSV record ids %q", ids)
			}
			for _, id := range ids {
				c, err := fc.store.(store.Usage).GetUsage(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				p, err := fp.store.(store.Usage).GetUsage(context.Background(), id)
				if err != nil {
					t.Fatalf("the Parquet import lacks %s: %v", id, err)
				}
				if tc.name == "legacy" {
					c.Attributes, p.Attributes = tagless(c.Attributes), tagless(p.Attributes)
				}
				if !reflect.DeepEqual(c, p) {
					t.Errorf("%s\n from CSV     %+v\n from Parquet %+v", id, c, p)
				}
			}
		})
	}
}

// csvRecordIDs returns the ids of the records of a CUR CSV file.
func csvRecordIDs(t *testing.T, csv string) []string {
	t.Helper()
	p := &Parsing{Prices: DefaultPrices(), TeamTag: "team", DatasetTag: "dataset"}
	var ids []string
	err := p.parseCUR(context.Background(), strings.NewReader(csv), func(it item) error {
		if it.err != nil {
			return it.err
		}
		for _, r := range it.records {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// tagless returns attrs without the tag: attributes.
func tagless(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if !strings.HasPrefix(k, "tag:") {
			out[k] = v
		}
	}
	return out
}

// badRowsParquet is a CUR 2.0 Parquet file whose row 2 has no line item
// id and row 4 a NaN cost.
func badRowsParquet(t testing.TB) []byte {
	str := arrow.BinaryTypes.String
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "identity_line_item_id", Type: str, Nullable: true},
		{Name: "line_item_usage_start_date", Type: str, Nullable: true},
		{Name: "line_item_unblended_cost", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	return writeParquet(t, sc, [][]any{
		{"a", "2026-01-01T00:00:00Z", 1.0},
		{nil, "2026-01-01T00:00:00Z", 1.0},
		{"c", "2026-01-01T00:00:00Z", 0.5},
		{"d", "2026-01-01T00:00:00Z", nan()},
	})
}

// nan returns a NaN without a constant expression.
func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestImportParquetMalformedRows(t *testing.T) {
	f := newFixture(t, false)
	uri := f.put(t, "bad.parquet", badRowsParquet(t))
	_, err := f.svc.Import(context.Background(), ImportRequest{Format: FormatCUR, URI: uri})
	var fe *fault.FieldError
	if !errors.As(err, &fe) || fe.Field != "uri" || fe.Row != 2 || !strings.Contains(fe.Reason, uri) {
		t.Fatalf("strict import error = %v, want a FieldError for uri row 2", err)
	}
	res := f.importOK(t, FormatCUR, uri, true, 2, 2)
	var got []string
	for _, e := range res.Errors {
		got = append(got, fmt.Sprintf("%d: %s", e.Line, e.Message))
	}
	assertStrings(t, "errors", got, "2: identity_line_item_id is empty", `4: unblended cost "NaN" is not a decimal`)
	if total := f.report(t, store.GroupByResource).Total.String(); total != "1.5" {
		t.Errorf("total %s, want 1.5", total)
	}
}

func TestImportParquetMalformedFile(t *testing.T) {
	good := cur2Parquet(t, false)
	notCUR := writeParquet(t, arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}}, nil), [][]any{{"x"}})
	for _, tc := range []struct {
		name, file string
		format     Format
		data       []byte
		reason     string
	}{
		{"truncated", "cut", FormatCUR, good[:len(good)/2], "not a readable Parquet file"},
		{"bad footer", "footer.parquet", FormatCUR, append(append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...), "\x10\x00\x00\x00PAR1"...), "not a readable Parquet file"},
		{"not parquet", "csv.parquet", FormatCUR, []byte(cur2CSV), "not a readable Parquet file"},
		{"damaged pages", "pages.parquet", FormatCUR, damage(good), "Parquet"},
		{"not a CUR", "other.parquet", FormatCUR, notCUR, "not a Cost and Usage Report"},
		{"not CUR format", "glue.parquet", FormatGlueJobRuns, good, "only CUR imports read Parquet files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, false)
			uri := f.put(t, tc.file, tc.data)
			for _, skip := range []bool{false, true} {
				_, err := f.svc.Import(context.Background(), ImportRequest{Format: tc.format, URI: uri, SkipMalformed: skip})
				var fe *fault.FieldError
				if !errors.As(err, &fe) || fe.Field != "uri" || !strings.Contains(fe.Reason, uri) || !strings.Contains(fe.Reason, tc.reason) {
					t.Errorf("skip %v: error %v, want an invalid uri naming %s: %s", skip, err, uri, tc.reason)
				}
			}
			if rep := f.report(t, store.GroupByResource); len(rep.Items) != 0 {
				t.Errorf("a failed import stored %v", itemCosts(rep))
			}
		})
	}
}

// damage returns data with the bytes of its first half but the magic
// inverted: the footer reads, the pages do not.
func damage(data []byte) []byte {
	out := bytes.Clone(data)
	for i := 4; i < len(out)/2; i++ {
		out[i] ^= 0xff
	}
	return out
}

// TestImportParquetCorrupted flips bytes all over a CUR Parquet file: an
// import of each fails with an error or imports valid records, never
// panics.
func TestImportParquetCorrupted(t *testing.T) {
	good := cur2Parquet(t, false)
	p := &Parsing{Prices: DefaultPrices(), TeamTag: "team", DatasetTag: "dataset"}
	step := max(1, len(good)/400)
	for i := 0; i < len(good); i += step {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			data := bytes.Clone(good)
			data[i] ^= x
			_ = p.parseCURParquet(context.Background(), bytes.NewReader(data), func(it item) error {
				for _, r := range it.records {
					if err := r.Validate(); err != nil {
						t.Fatalf("byte %d ^ %#x: invalid record %+v: %v", i, x, r, err)
					}
				}
				return nil
			})
		}
	}
}

// countingStore counts the Gets of a store and the bytes they ask for.
type countingStore struct {
	objects.Store
	mu     sync.Mutex
	gets   int
	whole  int   // Gets without a range
	ranged int64 // bytes of ranged Gets
}

func (c *countingStore) Get(ctx context.Context, uri string, r *objects.Range) (io.ReadCloser, objects.Info, error) {
	c.mu.Lock()
	c.gets++
	if r == nil {
		c.whole++
	} else {
		c.ranged += r.Length
	}
	c.mu.Unlock()
	return c.Store.Get(ctx, uri, r)
}

// TestImportParquetRanged imports a Parquet file of 3,000 line items with
// a wide column the import does not read, in row groups of 1,000, from
// S3: the import reads it with range Gets only, and far less than the
// whole file.
func TestImportParquetRanged(t *testing.T) {
	str := arrow.BinaryTypes.String
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "identity_line_item_id", Type: str, Nullable: true},
		{Name: "line_item_usage_start_date", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "line_item_unblended_cost", Type: &arrow.Decimal128Type{Precision: 20, Scale: 9}, Nullable: true},
		{Name: "line_item_resource_id", Type: str, Nullable: true},
		{Name: "product", Type: str, Nullable: true},
	}, nil)
	const n = 3000
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("li-%d", i), utc("2026-01-01T00:00:00Z").Add(time.Duration(i) * time.Minute),
			fmt.Sprintf("0.%09d", i+1), fmt.Sprintf("r%d", i%7), string(objectstest.Body(uint64(i), 2000))}
	}
	data := writeParquetGroups(t, sc, rows, 1000)
	f := newFixture(t, true)
	uri := f.put(t, "s3/cur/big.parquet", data)
	cs := &countingStore{Store: f.objects}
	svc, err := NewService(Deps{Store: f.store.(store.Usage), Objects: cs, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Import(context.Background(), ImportRequest{Format: FormatCUR, URI: uri})
	if err != nil || res.Imported != n {
		t.Fatalf("Import: %+v, %v", res, err)
	}
	// 1 + 2 + ... + 3000 nano-dollars.
	if total := f.report(t, store.GroupByResource).Total.String(); total != "0.0045015" {
		t.Errorf("total %s, want 0.0045015", total)
	}
	// Two passes (the check, the import), each reading the needed columns.
	if cs.whole != 0 || cs.ranged > int64(len(data))/4 {
		t.Errorf("%d Gets of %d bytes, %d of them whole, for a file of %d bytes", cs.gets, cs.ranged, cs.whole, len(data))
	}
	t.Logf("%d ranged Gets of %d bytes in all, for a file of %d bytes", cs.gets, cs.ranged, len(data))
}

func TestObjectReader(t *testing.T) {
	f := newFixture(t, true)
	body := objectstest.Body(7, 1000)
	for _, where := range []string{"file", "s3"} {
		t.Run(where, func(t *testing.T) {
			name := "obj"
			if where == "s3" {
				name = "s3/obj"
			}
			uri := f.put(t, name, body)
			o, err := newObjectReader(context.Background(), f.objects, uri, nil)
			if err != nil {
				t.Fatal(err)
			}
			o.block = 64
			read := func(off int64, n int) {
				t.Helper()
				p := make([]byte, n)
				got, err := o.ReadAt(p, off)
				want := body[min(off, int64(len(body))):min(off+int64(n), int64(len(body)))]
				if got != len(want) || !bytes.Equal(p[:got], want) {
					t.Fatalf("ReadAt(%d, %d) read %d bytes, want %d", n, off, got, len(want))
				}
				if (got < n) != errors.Is(err, io.EOF) || (err != nil && !errors.Is(err, io.EOF)) {
					t.Fatalf("ReadAt(%d, %d): %v", n, off, err)
				}
			}
			read(0, 10)
			read(10, 50) // the same block
			if o.gets != 1 {
				t.Errorf("%d Gets for two reads of one block", o.gets)
			}
			read(60, 10) // two blocks, the first cached
			read(500, 200)
			read(990, 20)
			read(1000, 1)
			gets := o.gets
			read(5, 5)
			if o.gets != gets {
				t.Error("the first block was evicted")
			}
			for off := int64(0); off < 1000; off += 37 {
				read(off, 13)
			}
			if len(o.blocks) > readCacheBlocks {
				t.Errorf("%d blocks cached", len(o.blocks))
			}
			if end, err := o.Seek(-8, io.SeekEnd); err != nil || end != 992 {
				t.Fatalf("Seek: %d, %v", end, err)
			}
			tail, err := io.ReadAll(o)
			if err != nil || !bytes.Equal(tail, body[992:]) {
				t.Fatalf("Read after Seek: %q, %v", tail, err)
			}
			// An object written again fails the read instead of mixing
			// versions.
			f.put(t, name, bytes.Repeat([]byte("x"), 1000))
			if _, err := o.ReadAt(make([]byte, 500), 0); err == nil || o.failure() == nil {
				t.Errorf("reading a changed object: %v", err)
			}
		})
	}
}
