// Package csvstream decodes CSV files into Arrow record batches for ingest:
// RFC 4180 records in UTF-8, CP949 or EUC-KR, mapped to a dataset's columns
// by header name or position, each value parsed exactly into its column's
// type. It streams: whatever the size of the file it holds one buffer (as
// large as the longest record needs), one record's fields and one batch.
// DecodeParallel decodes chunks of the file on several cores, in bounded
// memory, handing the batches over in source order.
//
// A bad record becomes a *RowError naming its line, column and value (masked
// for PII columns); the caller either stops at the first one or skips and
// counts them (Options.OnBadRow).
package csvstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/pii"
)

// Decoder reads record batches from a CSV stream. Next is not safe for
// concurrent use; Stats is, so that another goroutine may report progress.
type Decoder struct {
	sc        *scanner
	src       *countingReader
	schema    *arrow.Schema
	cols      []colState
	nfields   int    // fields every record must have
	fieldPII  []bool // by field position: the field belongs to a PII column
	anyPII    bool
	batchRows int
	onBadRow  func(*RowError) error
	notUTF8   bool // the source was transcoded: U+FFFD marks undecodable bytes
	header    []string
	mem       memory.Allocator

	emptyStringNull bool
	nullTokens      [][]byte // non-empty tokens
	projected       bool     // some columns are skipped (see Project)

	read, rejected int64
	stats          struct{ rows, rejected, line atomic.Int64 }
	err            error // sticky: io.EOF at the end, or what stopped decoding
}

type kind uint8

const (
	kindString kind = iota
	kindBool
	kindInt32
	kindInt64
	kindFloat64
	kindDecimal
	kindDate
	kindTimestamp
)

// colState is one dataset column: where its value comes from, how to parse
// it, and the value of the record being decoded until it is appended.
type colState struct {
	name     string
	kind     kind
	nullable bool
	pii      bool
	skip     bool // not decoded: all null in the batches (see Project)
	src      int  // field position, -1 when the file lacks the column
	typeName string
	prec     int32
	scale    int32
	date     dateParser
	ts       timestampParser

	b   array.Builder // nil for a STRING column
	str *strColumn    // a STRING column's values

	null bool
	i64  int64
	f64  float64
	dec  decimal128.Num
	bv   bool
	s    []byte
}

// NewDecoder checks the columns and the format, and when f.Header is set
// reads the header and maps it to the columns. A header that lacks a column
// that is not nullable, names an unknown column, names one twice or has an
// empty name is a *fault.FieldError with Field "header" (joined with
// errors.Join when there are several), before any record is decoded.
func NewDecoder(r io.Reader, cols []Column, f Format, opts Options) (*Decoder, error) {
	delim, quote, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, errors.New("csvstream: no columns")
	}
	d := &Decoder{
		src:       &countingReader{r: r},
		batchRows: opts.BatchRows,
		onBadRow:  opts.OnBadRow,
	}
	if d.batchRows <= 0 {
		d.batchRows = defaultBatchRows
	}
	maxRecord := opts.MaxRecordBytes
	if maxRecord <= 0 {
		maxRecord = defaultMaxRecordBytes
	}
	var text io.Reader = d.src
	switch f.Encoding {
	case UTF8:
	case CP949, EUCKR:
		// x/text's EUC-KR decoder reads the CP949 (UHC) extension too.
		text = transform.NewReader(d.src, korean.EUCKR.NewDecoder())
		d.notUTF8 = true
	default:
		return nil, fmt.Errorf("csvstream: unknown encoding %v", f.Encoding)
	}
	bufSize := opts.bufferBytes
	if bufSize <= 0 {
		bufSize = defaultBufferBytes
	}
	d.sc = newScanner(text, delim, quote, bufSize, maxRecord)

	for _, v := range f.NullValues {
		if v == "" {
			d.emptyStringNull = true
		} else {
			d.nullTokens = append(d.nullTokens, []byte(v))
		}
	}

	fields := make([]arrow.Field, len(cols))
	d.cols = make([]colState, len(cols))
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		if c.Name == "" {
			return nil, fmt.Errorf("csvstream: column %d has no name", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("csvstream: column %q appears twice", c.Name)
		}
		seen[c.Name] = true
		cs, err := newColState(c, f)
		if err != nil {
			return nil, err
		}
		d.cols[i] = cs
		d.anyPII = d.anyPII || c.PII
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
	}
	d.schema = arrow.NewSchema(fields, nil)

	if f.Header {
		if err := d.mapHeader(); err != nil {
			return nil, err
		}
	} else {
		d.nfields = len(cols)
		d.fieldPII = make([]bool, len(cols))
		for i := range d.cols {
			d.cols[i].src = i
			d.fieldPII[i] = d.cols[i].pii
		}
	}
	d.publish()

	mem := opts.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	d.mem = mem
	d.newBuilders()
	return d, nil
}

// Project makes the decoder parse only the named columns. The fields of
// the others are still split (a record must have every field) but not
// parsed or checked: their arrays in the batches are all null, whatever
// the source holds. It is for readers that look at some columns only (a
// quality suite); it must be called before the first batch is decoded.
func (d *Decoder) Project(names []string) error {
	if d.read > 0 || d.err != nil {
		return errors.New("csvstream: Project after decoding has started")
	}
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	for _, n := range names {
		if !slices.ContainsFunc(d.cols, func(c colState) bool { return c.name == n }) {
			return fmt.Errorf("csvstream: Project: %q is not a column", n)
		}
	}
	d.projected = false
	d.sc.keep, d.sc.nfields = nil, d.nfields
	for i := range d.cols {
		c := &d.cols[i]
		c.skip = !keep[c.name]
		d.projected = d.projected || c.skip
		if !c.skip && c.src >= 0 {
			d.sc.keep = append(d.sc.keep, c.src)
		}
	}
	if !d.projected {
		d.sc.keep = nil
	} else if d.sc.keep == nil {
		d.sc.keep = []int{}
	}
	d.releaseBuilders()
	d.newBuilders()
	return nil
}

// newBuilders makes the builders the columns append to.
func (d *Decoder) newBuilders() {
	for i := range d.cols {
		c := &d.cols[i]
		c.b, c.str = nil, nil
		if c.skip {
			continue
		}
		if c.kind == kindString {
			c.str = newStrColumn()
		} else {
			c.b = array.NewBuilder(d.mem, d.schema.Field(i).Type)
		}
	}
}

// reserve sizes the fixed-width builders for n more rows.
func (d *Decoder) reserve(n int) {
	for i := range d.cols {
		if b := d.cols[i].b; b != nil {
			b.Reserve(n)
		}
	}
}

// newBatch makes a batch of the rows appended so far and starts the next.
func (d *Decoder) newBatch(rows int) arrow.RecordBatch {
	arrays := make([]arrow.Array, len(d.cols))
	for i := range d.cols {
		switch c := &d.cols[i]; {
		case c.skip:
			arrays[i] = array.MakeArrayOfNull(d.mem, d.schema.Field(i).Type, rows)
		case c.str != nil:
			arrays[i] = c.str.newArray(d.mem)
		default:
			arrays[i] = c.b.NewArray()
		}
	}
	rec := array.NewRecordBatch(d.schema, arrays, int64(rows))
	for _, a := range arrays {
		a.Release()
	}
	return rec
}

// discardRows drops the rows appended since the last batch.
func (d *Decoder) discardRows() {
	for i := range d.cols {
		switch c := &d.cols[i]; {
		case c.skip:
		case c.str != nil:
			c.str.reset()
		default:
			c.b.NewArray().Release()
		}
	}
}

// releaseBuilders frees the builders' buffers.
func (d *Decoder) releaseBuilders() {
	for i := range d.cols {
		if c := &d.cols[i]; c.b != nil {
			c.b.Release()
			c.b = nil
		}
		d.cols[i].str = nil
	}
}

// bytes checks the delimiter and quote and returns them as bytes.
func (f *Format) bytes() (delim, quote byte, err error) {
	dr, qr := f.Delimiter, f.Quote
	if dr == 0 {
		dr = ','
	}
	if qr == 0 {
		qr = '"'
	}
	for _, r := range []rune{dr, qr} {
		if r >= utf8.RuneSelf || r == '\r' || r == '\n' {
			return 0, 0, fmt.Errorf("csvstream: delimiter and quote must be ASCII other than CR and LF, not %q", r)
		}
	}
	if dr == qr {
		return 0, 0, fmt.Errorf("csvstream: delimiter and quote are both %q", dr)
	}
	return byte(dr), byte(qr), nil
}

func newColState(c Column, f Format) (colState, error) {
	cs := colState{name: c.Name, nullable: c.Nullable, pii: c.PII, src: -1}
	switch t := c.Type.(type) {
	case *arrow.StringType:
		cs.kind, cs.typeName = kindString, "string"
	case *arrow.BooleanType:
		cs.kind, cs.typeName = kindBool, "boolean"
	case *arrow.Int32Type:
		cs.kind, cs.typeName = kindInt32, "int32"
	case *arrow.Int64Type:
		cs.kind, cs.typeName = kindInt64, "int64"
	case *arrow.Float64Type:
		cs.kind, cs.typeName = kindFloat64, "double"
	case *arrow.Decimal128Type:
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return cs, fmt.Errorf("csvstream: column %q: decimal(%d,%d) needs 1 <= precision <= 38 and 0 <= scale <= precision", c.Name, t.Precision, t.Scale)
		}
		cs.kind, cs.prec, cs.scale = kindDecimal, t.Precision, t.Scale
		cs.typeName = fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case *arrow.Date32Type:
		cs.kind, cs.typeName = kindDate, "date"
		cs.date = newDateParser(f.DateFormat)
	case *arrow.TimestampType:
		if t.Unit != arrow.Microsecond || (t.TimeZone != "" && t.TimeZone != "UTC") {
			return cs, fmt.Errorf("csvstream: column %q: timestamp must be in microseconds, UTC or without zone, not %s", c.Name, t)
		}
		cs.kind, cs.typeName = kindTimestamp, "timestamp"
		cs.ts = newTimestampParser(f.TimestampFormat)
	default:
		return cs, fmt.Errorf("csvstream: column %q: unsupported type %v", c.Name, c.Type)
	}
	return cs, nil
}

// mapHeader reads the first record and maps its names to the columns.
func (d *Decoder) mapHeader() error {
	rec, line, err := d.sc.next()
	if err != nil {
		var se *syntaxError
		switch {
		case err == io.EOF:
			return &fault.FieldError{Field: "header", Reason: "the file is empty: it has no header"}
		case errors.As(err, &se):
			return &fault.FieldError{Field: "header", Row: line, Reason: se.reason}
		case err == errRecordTooLong:
			return &fault.FieldError{Field: "header", Row: line, Reason: "the header is longer than the longest record allowed"}
		}
		return fmt.Errorf("csvstream: reading the header: %w", err)
	}
	byName := make(map[string]int, len(d.cols))
	for i := range d.cols {
		byName[d.cols[i].name] = i
	}
	var problems []error
	headerPos := make(map[string]int, len(rec))
	d.nfields = len(rec)
	d.fieldPII = make([]bool, len(rec))
	for pos, raw := range rec {
		name := strings.TrimFunc(string(raw), func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
		d.header = append(d.header, name)
		if name == "" {
			problems = append(problems, &fault.FieldError{Field: "header", Row: line, Reason: fmt.Sprintf("header field %d has no name", pos+1)})
			continue
		}
		if first, dup := headerPos[name]; dup {
			problems = append(problems, &fault.FieldError{Field: "header", Row: line, Column: name, Reason: fmt.Sprintf("named twice (header fields %d and %d)", first+1, pos+1)})
			continue
		}
		headerPos[name] = pos
		i, ok := byName[name]
		if !ok {
			problems = append(problems, &fault.FieldError{Field: "header", Row: line, Column: name, Reason: "is not a column of the dataset"})
			continue
		}
		d.cols[i].src = pos
		d.fieldPII[pos] = d.cols[i].pii
	}
	for i := range d.cols {
		if c := &d.cols[i]; c.src < 0 && !c.nullable {
			if _, dup := headerPos[c.name]; !dup {
				problems = append(problems, &fault.FieldError{Field: "header", Row: line, Column: c.name, Reason: "is missing from the header and is not nullable"})
			}
		}
	}
	if len(problems) == 1 {
		return problems[0]
	}
	return errors.Join(problems...)
}

// Header returns the names of the source's header fields, in file order
// (nil without a header).
func (d *Decoder) Header() []string { return d.header }

// Schema returns the schema of the batches: the columns in the order given
// to NewDecoder, whatever their order in the file.
func (d *Decoder) Schema() *arrow.Schema { return d.schema }

// Next returns the next batch of up to Options.BatchRows rows; only the
// last batch is shorter, and none is empty. At the end it returns io.EOF.
// The caller releases the batch. After an error every call returns it again.
func (d *Decoder) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if d.err != nil {
		return nil, d.err
	}
	defer d.publish()
	rec, err := d.decodeBatch(ctx)
	if err != nil {
		return nil, d.fail(err)
	}
	return rec, nil
}

// decodeBatch decodes the next batch, or returns io.EOF when no row is
// left. The builders stay usable after an error.
func (d *Decoder) decodeBatch(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows := 0
	for rows < d.batchRows {
		if rows%reserveRows == 0 {
			// The builders grow in steps rather than by a whole batch at
			// once, so that a small file does not cost a full batch.
			d.reserve(min(reserveRows, d.batchRows-rows))
		}
		if d.read%reserveRows == reserveRows-1 {
			// Also while every row is rejected.
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, line, err := d.sc.next()
		if err != nil {
			if err == io.EOF {
				break
			}
			var se *syntaxError
			if !errors.As(err, &se) {
				return nil, d.fatal(err, line)
			}
			d.read++
			if err := d.bad(d.syntaxRowError(se)); err != nil {
				return nil, err
			}
			continue
		}
		d.read++
		if re := d.parseRow(rec, line); re != nil {
			if err := d.bad(re); err != nil {
				return nil, err
			}
			continue
		}
		d.appendRow()
		rows++
	}
	if rows == 0 {
		return nil, io.EOF
	}
	return d.newBatch(rows), nil
}

// Stats says how far decoding has gone.
type Stats struct {
	// BytesRead counts source bytes consumed so far (read ahead by up to
	// one buffer of the records decoded), before any transcoding.
	BytesRead int64
	// RowsRead counts the records read after the header, rejected ones
	// included.
	RowsRead int64
	// RowsRejected counts the records skipped through Options.OnBadRow.
	RowsRejected int64
	// Line is the 1-based physical line the next record starts on.
	Line int64
}

// Stats returns the progress so far; rows and lines are brought up to date
// when Next returns, bytes as they are read.
func (d *Decoder) Stats() Stats {
	return Stats{
		BytesRead:    d.src.n.Load(),
		RowsRead:     d.stats.rows.Load(),
		RowsRejected: d.stats.rejected.Load(),
		Line:         d.stats.line.Load(),
	}
}

func (d *Decoder) publish() {
	d.stats.rows.Store(d.read)
	d.stats.rejected.Store(d.rejected)
	d.stats.line.Store(d.sc.line)
}

// fail ends decoding with err and frees the batch being built.
func (d *Decoder) fail(err error) error {
	d.err = err
	d.releaseBuilders()
	return err
}

// fatal describes an error the decoder cannot skip past.
func (d *Decoder) fatal(err error, line int64) error {
	if err == errRecordTooLong {
		return &RowError{Line: line, Reason: fmt.Sprintf("the record is longer than %d bytes (is a quote left open?)", d.sc.maxBuf)}
	}
	return fmt.Errorf("csvstream: reading line %d: %w", line, err)
}

// bad reports a bad row: the error itself without OnBadRow, else whatever
// OnBadRow returns, counting the row as rejected when that is nil.
func (d *Decoder) bad(re *RowError) error {
	if d.onBadRow == nil {
		return re
	}
	if err := d.onBadRow(re); err != nil {
		return err
	}
	d.rejected++
	return nil
}

// reserveRows is how many rows the builders are sized for at a time, and
// how often the context is checked.
const reserveRows = 1024

func (d *Decoder) syntaxRowError(se *syntaxError) *RowError {
	re := &RowError{Line: se.line, Reason: se.reason}
	if se.field < d.nfields {
		for i := range d.cols {
			if d.cols[i].src == se.field {
				re.Column = d.cols[i].name
			}
		}
	}
	return re
}

// parseRow parses every column's value of one record into its colState,
// so that a bad value leaves the builders untouched.
func (d *Decoder) parseRow(rec [][]byte, line int64) *RowError {
	if len(rec) != d.nfields {
		re := &RowError{Line: line, Reason: fmt.Sprintf("has %d fields, want %d", len(rec), d.nfields)}
		re.Raw = d.raw(rec, d.anyPII)
		return re
	}
	for i := range d.cols {
		c := &d.cols[i]
		if c.skip {
			continue
		}
		if c.src < 0 {
			c.null = true
			continue
		}
		v := rec[c.src]
		if c.null = d.isNull(v, c.kind); c.null {
			if !c.nullable {
				return d.valueError(c, line, v, "is null, but the column is not nullable")
			}
			continue
		}
		var reason string
		switch c.kind {
		case kindString:
			if !d.sc.validUTF8 && !utf8.Valid(v) {
				reason = "is not valid UTF-8 (is the file's encoding CP949 or EUC-KR?)"
			} else if d.notUTF8 && bytes.Contains(v, replacementChar) {
				reason = "holds bytes that are not CP949 or EUC-KR"
			}
			c.s = v
		case kindBool:
			c.bv, reason = parseBool(v)
		case kindInt32:
			c.i64, reason = parseInt(v, 32)
		case kindInt64:
			c.i64, reason = parseInt(v, 64)
		case kindFloat64:
			c.f64, reason = parseFloat(v)
		case kindDecimal:
			c.dec, reason = parseDecimal(v, c.prec, c.scale)
		case kindDate:
			var days int32
			days, reason = c.date.parse(v)
			c.i64 = int64(days)
		case kindTimestamp:
			c.i64, reason = c.ts.parse(v)
		}
		if reason != "" {
			return d.valueError(c, line, v, reason)
		}
	}
	return nil
}

var replacementChar = []byte(string(utf8.RuneError))

// isNull says whether v is a null: a listed token, or the empty field
// outside STRING columns (and in them when "" is listed).
func (d *Decoder) isNull(v []byte, k kind) bool {
	if len(v) == 0 {
		return k != kindString || d.emptyStringNull
	}
	for _, t := range d.nullTokens {
		if bytes.Equal(v, t) {
			return true
		}
	}
	return false
}

func (d *Decoder) valueError(c *colState, line int64, v []byte, reason string) *RowError {
	value := string(v)
	if c.pii {
		value = pii.Mask(value)
	}
	return &RowError{Line: line, Column: c.name, Value: value, Reason: reason, Raw: d.raw(d.sc.allFields(), false), hasValue: true}
}

// raw copies a record's fields for a RowError, masking those of PII
// columns, or every field when maskAll is set.
func (d *Decoder) raw(rec [][]byte, maskAll bool) []string {
	out := make([]string, len(rec))
	for i, f := range rec {
		out[i] = string(f)
		if maskAll || (i < len(d.fieldPII) && d.fieldPII[i]) {
			out[i] = pii.Mask(out[i])
		}
	}
	return out
}

// appendRow appends the parsed record. The builders were reserved for it,
// so fixed-width values go in without capacity checks.
func (d *Decoder) appendRow() {
	for i := range d.cols {
		c := &d.cols[i]
		if c.skip {
			continue
		}
		if c.null {
			if c.str != nil {
				c.str.appendNull()
			} else {
				c.b.AppendNull()
			}
			continue
		}
		switch c.kind {
		case kindString:
			c.str.append(c.s)
		case kindBool:
			c.b.(*array.BooleanBuilder).UnsafeAppend(c.bv)
		case kindInt32:
			c.b.(*array.Int32Builder).UnsafeAppend(int32(c.i64))
		case kindInt64:
			c.b.(*array.Int64Builder).UnsafeAppend(c.i64)
		case kindFloat64:
			c.b.(*array.Float64Builder).UnsafeAppend(c.f64)
		case kindDecimal:
			c.b.(*array.Decimal128Builder).UnsafeAppend(c.dec)
		case kindDate:
			c.b.(*array.Date32Builder).UnsafeAppend(arrow.Date32(c.i64))
		case kindTimestamp:
			c.b.(*array.TimestampBuilder).UnsafeAppend(arrow.Timestamp(c.i64))
		}
	}
}

// countingReader counts the bytes read from the source, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
