package cost

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
)

// How a Parquet file is read: in record batches of parquetBatchRows rows,
// each column streamed through a buffer of parquetStreamBytes, so that
// memory stays bounded by the columns read times these, whatever the size
// of the file and of its row groups.
const (
	parquetBatchRows   = 1024
	parquetStreamBytes = 1 << 20
)

// parseCURParquet reads a CUR Parquet file from r: CUR 2.0 (resource_tags a
// MAP<string,string>, or JSON text) or legacy CUR exported as Parquet (the
// Athena integration's lower_snake names, one resource_tags_user_... column
// per tag). Only the columns a record needs are read, row group by row
// group in record batches. Each row becomes the text curLineItem maps, as a
// CSV line would: timestamps as RFC 3339, decimals exactly, doubles as
// their shortest decimal text (see cellText), so that a Parquet file and
// the CSV file of the same report import the same records. An item's line
// is its row's 1-based number in the file.
//
// A file that is not Parquet, or is damaged, returns an error; a row whose
// values do not make a record is a malformed item.
func (p *Parsing) parseCURParquet(ctx context.Context, r parquet.ReaderAtSeeker, yield func(item) error) error {
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetStreamBytes
	var pf *file.Reader
	if err := guard(func() (err error) {
		pf, err = file.NewParquetReader(r, file.WithReadProps(props))
		return err
	}); err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	defer pf.Close()

	sc := pf.MetaData().Schema
	names := make([]string, sc.Root().NumFields())
	for i := range names {
		names[i] = sc.Root().Field(i).Name()
	}
	layout, err := newCURLayout(names)
	if err != nil {
		return err
	}
	// Read the leaves of the top-level columns the layout uses.
	used := map[string]int{}
	for _, c := range layout.col {
		if c >= 0 {
			used[names[c]] = c
		}
	}
	for c := range layout.tagCols {
		used[names[c]] = c
	}
	var leaves []int
	for i := range sc.NumColumns() {
		if path := sc.Column(i).ColumnPath(); len(path) > 0 {
			if _, ok := used[path[0]]; ok {
				leaves = append(leaves, i)
			}
		}
	}
	var rr pqarrow.RecordReader
	if err := guard(func() error {
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
		if err != nil {
			return err
		}
		rr, err = fr.GetRecordReader(ctx, leaves, nil)
		return err
	}); err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	defer rr.Release()

	var row int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch arrow.RecordBatch
		if err := guard(func() error {
			if rr.Next() {
				batch = rr.RecordBatch()
				return nil
			}
			return rr.Err()
		}); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			return fmt.Errorf("damaged Parquet file: reading the rows after row %d: %w", row, err)
		}
		if batch == nil {
			return nil
		}
		cols := newCURBatch(layout, names, used, batch)
		for i := range int(batch.NumRows()) {
			row++
			it := item{line: row}
			var rec *usage.Record
			cur, err := cols.row(i)
			if err == nil {
				rec, err = p.curLineItem(cur)
			}
			it.err = err
			if rec != nil {
				it.records = []*usage.Record{rec}
			}
			if err := yield(it); err != nil {
				return err
			}
		}
	}
}

// guard runs fn, turning a panic of the Parquet reader (which a damaged
// file can cause) into an error.
func guard(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	return fn()
}

// curBatch reads the rows of one record batch of a CUR Parquet file.
type curBatch struct {
	field [curFieldCount]func(int) string
	// tagMap reads a resource_tags MAP column, nil when there is none
	// (or resource_tags is text, read as field).
	tagMap *array.Map
	keys   func(int) string
	items  func(int) string
	// tagCols read the one-tag columns, by tag key.
	tagCols map[string]func(int) string
}

// newCURBatch returns the reader of batch, a record batch of the columns
// used (column name -> index in names) of a file laid out as layout.
func newCURBatch(layout *curLayout, names []string, used map[string]int, batch arrow.RecordBatch) *curBatch {
	b := &curBatch{tagCols: map[string]func(int) string{}}
	seen := map[int]bool{}
	for j, f := range batch.Schema().Fields() {
		c, ok := used[f.Name]
		if !ok || seen[c] {
			continue
		}
		seen[c] = true
		col := batch.Column(j)
		if k, ok := layout.tagCols[c]; ok {
			b.tagCols[k] = cellText(col)
			continue
		}
		for fi, fc := range layout.col {
			if fc != c {
				continue
			}
			if m, ok := col.(*array.Map); ok && curField(fi) == curResourceTags {
				b.tagMap, b.keys, b.items = m, cellText(m.Keys()), cellText(m.Items())
				continue
			}
			b.field[fi] = cellText(col)
		}
	}
	return b
}

// row returns row i of the batch as a CUR line item's text.
func (b *curBatch) row(i int) (*curRow, error) {
	r := &curRow{}
	for f, text := range b.field {
		if text != nil {
			r.text[f] = text(i)
		}
	}
	for k, text := range b.tagCols {
		if v := text(i); v != "" {
			if r.tags == nil {
				r.tags = map[string]string{}
			}
			r.tags[k] = v
		}
	}
	if b.tagMap != nil && b.tagMap.IsValid(i) {
		start, end := b.tagMap.ValueOffsets(i)
		if r.tags == nil && end > start {
			r.tags = make(map[string]string, end-start)
		}
		for j := int(start); j < int(end); j++ {
			// As in resource_tags JSON text, an empty value is a tag.
			if b.tagMap.Items().IsValid(j) {
				r.tags[b.keys(j)] = b.items(j)
			}
		}
	}
	for _, s := range r.text {
		if len(s) > maxLineBytes {
			return nil, errLineTooLong
		}
	}
	for k, v := range r.tags {
		if len(k)+len(v) > maxLineBytes {
			return nil, errLineTooLong
		}
	}
	return r, nil
}

// cellText returns the function that renders a value of column a as the
// text a CSV report holds, "" for a null:
//
//   - a timestamp as RFC 3339 in UTC (one without a time zone is UTC);
//   - a DECIMAL exactly, from its unscaled integer and scale;
//   - a DOUBLE (or FLOAT) as the shortest decimal text that reads back as
//     the same float, strconv.FormatFloat(v, 'g', -1, 64): a CUR writer
//     rounds a cost of 0.0123456785 to the nearest double, and that text
//     is "0.0123456785" again. The text is then parsed as a decimal like
//     any CSV cost, so no float arithmetic touches the amount; NaN and
//     infinities are malformed costs;
//   - anything else as arrow renders it (ValueStr), strings as they are.
func cellText(a arrow.Array) func(int) string {
	text := func(a arrow.Array) func(int) string {
		switch a := a.(type) {
		case *array.String:
			return a.Value
		case *array.LargeString:
			return a.Value
		case *array.StringView:
			return a.Value
		case *array.Binary:
			return func(i int) string { return string(a.Value(i)) }
		case *array.LargeBinary:
			return func(i int) string { return string(a.Value(i)) }
		case *array.Float64:
			return func(i int) string { return strconv.FormatFloat(a.Value(i), 'g', -1, 64) }
		case *array.Float32:
			return func(i int) string { return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32) }
		case *array.Decimal128:
			scale := a.DataType().(*arrow.Decimal128Type).Scale
			return func(i int) string { return decimalText(a.Value(i).BigInt(), scale) }
		case *array.Decimal256:
			scale := a.DataType().(*arrow.Decimal256Type).Scale
			return func(i int) string { return decimalText(a.Value(i).BigInt(), scale) }
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			return func(i int) string { return a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano) }
		case *array.Date32:
			return func(i int) string { return a.Value(i).ToTime().UTC().Format(time.RFC3339) }
		case *array.Date64:
			return func(i int) string { return a.Value(i).ToTime().UTC().Format(time.RFC3339) }
		}
		return a.ValueStr
	}(a)
	return func(i int) string {
		if a.IsNull(i) {
			return ""
		}
		return text(i)
	}
}

// decimalText renders the decimal unscaled × 10^-scale exactly.
func decimalText(unscaled *big.Int, scale int32) string {
	return decimal.NewFromBigInt(unscaled, -scale).String()
}

// errNotCURParquet is the error for a Parquet file imported as another
// format than CUR.
var errNotCURParquet = errors.New("only CUR imports read Parquet files")
