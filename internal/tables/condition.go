package tables

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// Comparison compares a column's value with a Condition's value. Its
// values are the names of the API's Comparison enum.
type Comparison string

// The comparisons a Condition may make.
const (
	Equal          Comparison = "EQUAL"
	NotEqual       Comparison = "NOT_EQUAL"
	Less           Comparison = "LESS"
	LessOrEqual    Comparison = "LESS_OR_EQUAL"
	Greater        Comparison = "GREATER"
	GreaterOrEqual Comparison = "GREATER_OR_EQUAL"
)

// holds reports whether a column value that compares to the condition's
// value as c (-1, 0, +1) satisfies the comparison.
func (op Comparison) holds(c int) bool {
	switch op {
	case Equal:
		return c == 0
	case NotEqual:
		return c != 0
	case Less:
		return c < 0
	case LessOrEqual:
		return c <= 0
	case Greater:
		return c > 0
	case GreaterOrEqual:
		return c >= 0
	}
	return false
}

// ordered reports whether op needs an order (not only equality).
func (op Comparison) ordered() bool { return op != Equal && op != NotEqual }

func (op Comparison) valid() bool {
	switch op {
	case Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual:
		return true
	}
	return false
}

// Condition selects the rows whose Column compares to Value as Op says; a
// null never matches. Value is canonical text, as FormatValue writes it:
// 2024-01-31 (DATE), 2024-01-31T09:00:00.5Z (TIMESTAMP, RFC 3339 with at
// most microseconds), 12.50 (DECIMAL, at most the column's scale), true,
// 42, 1.5 (DOUBLE, not NaN), or the text itself (STRING). Its JSON is that
// of the API's RowCondition.
type Condition struct {
	Column string     `json:"column"`
	Op     Comparison `json:"comparison"`
	Value  string     `json:"value"`
}

// String renders the condition for messages, e.g. `joined LESS "2024-01-15"`.
func (c Condition) String() string { return fmt.Sprintf("%s %s %q", c.Column, c.Op, c.Value) }

// condition is the cutoff as the Condition "Column LESS the cutoff" on a
// column of type typ: a DATE column's value is the cutoff's day (in UTC), a
// TIMESTAMP's the cutoff rounded up to the microsecond (a microsecond value
// before the cutoff is before the rounded one).
func (b Before) condition(typ iceberg.Type) (Condition, error) {
	t := b.Time.UTC()
	switch typ.(type) {
	case iceberg.DateType:
		return Condition{Column: b.Column, Op: Less, Value: t.Format(time.DateOnly)}, nil
	case iceberg.TimestampType, iceberg.TimestampTzType:
		if t.Nanosecond()%1000 != 0 {
			t = t.Truncate(time.Microsecond).Add(time.Microsecond)
		}
		return Condition{Column: b.Column, Op: Less, Value: t.Format(time.RFC3339Nano)}, nil
	}
	return Condition{}, fault.Invalid("column", "column %q is %s; a cutoff needs a DATE or TIMESTAMP column", b.Column, typ)
}

// CutoffCondition is the condition "column c is before t": the rows a
// retention rule on c selects at t.
func CutoffCondition(c dataset.Column, t time.Time) (Condition, error) {
	typ, err := icebergType(c)
	if err != nil {
		return Condition{}, err
	}
	return Before{Column: c.Name, Time: t}.condition(typ)
}

// FormatValue writes a[row], which must not be null, as the canonical
// text of a Condition's value.
func FormatValue(a arrow.Array, row int) (string, error) {
	switch a := a.(type) {
	case *array.String:
		return a.Value(row), nil
	case *array.LargeString:
		return a.Value(row), nil
	case *array.Boolean:
		return strconv.FormatBool(a.Value(row)), nil
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(row)), 10), nil
	case *array.Int64:
		return strconv.FormatInt(a.Value(row), 10), nil
	case *array.Float64:
		return strconv.FormatFloat(a.Value(row), 'g', -1, 64), nil
	case *array.Decimal128:
		return a.Value(row).ToString(a.DataType().(*arrow.Decimal128Type).Scale), nil
	case *array.Date32:
		return a.Value(row).ToTime().Format(time.DateOnly), nil
	case *array.Timestamp:
		return time.UnixMicro(timestampMicros(a, row)).UTC().Format(time.RFC3339Nano), nil
	}
	return "", fmt.Errorf("a condition cannot hold a value of Arrow type %s", a.DataType())
}

// scalarKind is the comparable form of a value.
type scalarKind uint8

const (
	kindInt     scalarKind = iota + 1 // integers, days (DATE), µs (TIMESTAMP)
	kindFloat                         // DOUBLE
	kindDecimal                       // DECIMAL, unscaled (one scale per column)
	kindText                          // STRING, compared bytewise
	kindBool                          // BOOLEAN, false < true
)

// scalar is one value of a column in comparable form.
type scalar struct {
	kind scalarKind
	i    int64
	f    float64
	d    decimal128.Num
	s    string
}

// compare compares x with y; ok is false when they have no order (a NaN,
// or values of different kinds).
func (x scalar) compare(y scalar) (c int, ok bool) {
	if x.kind != y.kind {
		return 0, false
	}
	switch x.kind {
	case kindInt, kindBool:
		return cmp.Compare(x.i, y.i), true
	case kindFloat:
		if math.IsNaN(x.f) || math.IsNaN(y.f) {
			return 0, false
		}
		return cmp.Compare(x.f, y.f), true
	case kindDecimal:
		return x.d.Cmp(y.d), true
	case kindText:
		return strings.Compare(x.s, y.s), true
	}
	return 0, false
}

// scalarAt is a[row] (not null) in comparable form; ok is false for an
// Arrow type a condition cannot compare.
func scalarAt(a arrow.Array, row int) (scalar, bool) {
	switch a := a.(type) {
	case *array.Int32:
		return scalar{kind: kindInt, i: int64(a.Value(row))}, true
	case *array.Int64:
		return scalar{kind: kindInt, i: a.Value(row)}, true
	case *array.Date32:
		return scalar{kind: kindInt, i: int64(a.Value(row))}, true
	case *array.Timestamp:
		return scalar{kind: kindInt, i: timestampMicros(a, row)}, true
	case *array.Float64:
		return scalar{kind: kindFloat, f: a.Value(row)}, true
	case *array.Float32:
		return scalar{kind: kindFloat, f: float64(a.Value(row))}, true
	case *array.Decimal128:
		return scalar{kind: kindDecimal, d: a.Value(row)}, true
	case *array.String:
		return scalar{kind: kindText, s: a.Value(row)}, true
	case *array.LargeString:
		return scalar{kind: kindText, s: a.Value(row)}, true
	case *array.Boolean:
		if a.Value(row) {
			return scalar{kind: kindBool, i: 1}, true
		}
		return scalar{kind: kindBool}, true
	}
	return scalar{}, false
}

// parseValue reads a Condition's canonical text as a value of type typ.
// Errors are FieldErrors on "condition.value".
func parseValue(typ iceberg.Type, text string) (scalar, error) {
	bad := func(want string) error {
		return fault.Invalid("condition.value", "%q is not %s", text, want)
	}
	switch t := typ.(type) {
	case iceberg.StringType:
		return scalar{kind: kindText, s: text}, nil
	case iceberg.BooleanType:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return scalar{}, bad("a boolean (true or false)")
		}
		if b {
			return scalar{kind: kindBool, i: 1}, nil
		}
		return scalar{kind: kindBool}, nil
	case iceberg.Int32Type, iceberg.Int64Type:
		bits := 64
		if _, ok := t.(iceberg.Int32Type); ok {
			bits = 32
		}
		n, err := strconv.ParseInt(text, 10, bits)
		if err != nil {
			return scalar{}, bad(fmt.Sprintf("an int%d", bits))
		}
		return scalar{kind: kindInt, i: n}, nil
	case iceberg.Float64Type, iceberg.Float32Type:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) {
			return scalar{}, bad("a number (NaN compares with nothing)")
		}
		return scalar{kind: kindFloat, f: f}, nil
	case iceberg.DecimalType:
		return parseDecimalValue(t, text)
	case iceberg.DateType:
		d, err := time.Parse(time.DateOnly, text)
		if err != nil {
			return scalar{}, bad("a date (YYYY-MM-DD)")
		}
		return scalar{kind: kindInt, i: d.Unix() / 86400}, nil
	case iceberg.TimestampType, iceberg.TimestampTzType:
		ts, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return scalar{}, bad("an RFC 3339 timestamp")
		}
		if ts.Nanosecond()%1000 != 0 {
			return scalar{}, fault.Invalid("condition.value", "%q is more precise than microseconds", text)
		}
		return scalar{kind: kindInt, i: ts.UnixMicro()}, nil
	}
	return scalar{}, fault.Invalid("condition.column", "a condition cannot compare a column of type %s", typ)
}

// parseDecimalValue reads text exactly as a decimal of type t: more
// fractional digits than its scale is an error, not a rounding.
func parseDecimalValue(t iceberg.DecimalType, text string) (scalar, error) {
	digits := strings.TrimLeft(text, "+-")
	if _, frac, ok := strings.Cut(digits, "."); ok && len(frac) > t.Scale() {
		return scalar{}, fault.Invalid("condition.value", "%q has more than %d decimal places (the column is %s)", text, t.Scale(), t)
	}
	n, err := decimal128.FromString(text, int32(t.Precision()), int32(t.Scale()))
	if err != nil || strings.ContainsAny(text, "eE") {
		return scalar{}, fault.Invalid("condition.value", "%q is not a %s", text, t)
	}
	return scalar{kind: kindDecimal, d: n}, nil
}

// condPred is a Condition resolved against a table's schema.
type condPred struct {
	cond  Condition
	field iceberg.NestedField
	val   scalar
}

// newCondPred resolves cond against sc. Errors are FieldErrors naming the
// condition's fields.
func newCondPred(sc *iceberg.Schema, cond Condition) (condPred, error) {
	f, ok := sc.FindFieldByName(cond.Column)
	if !ok {
		return condPred{}, fault.Invalid("condition.column", "the table has no column %q", cond.Column)
	}
	if !cond.Op.valid() {
		return condPred{}, fault.Invalid("condition.comparison", "%q is not a comparison (EQUAL, NOT_EQUAL, LESS, LESS_OR_EQUAL, GREATER, GREATER_OR_EQUAL)", cond.Op)
	}
	if _, isBool := f.Type.(iceberg.BooleanType); isBool && cond.Op.ordered() {
		return condPred{}, fault.Invalid("condition.comparison", "column %q is BOOLEAN: only EQUAL and NOT_EQUAL compare it", f.Name)
	}
	v, err := parseValue(f.Type, cond.Value)
	if err != nil {
		return condPred{}, err
	}
	return condPred{cond: cond, field: f, val: v}, nil
}

// hit reports whether a[row] matches: a null never does.
func (p condPred) hit(a arrow.Array, row int) (bool, error) {
	if a.IsNull(row) {
		return false, nil
	}
	x, ok := scalarAt(a, row)
	if !ok {
		return false, fmt.Errorf("column %q is read as %s, which the condition cannot compare", p.field.Name, a.DataType())
	}
	c, ok := x.compare(p.val)
	return ok && p.cond.Op.holds(c), nil
}

// mask marks the rows of col that match (with want; the others without
// it), and counts the rows that match.
func (p condPred) mask(col arrow.Array, want bool) (*array.Boolean, int, error) {
	b := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(col.Len())
	n := 0
	for i := 0; i < col.Len(); i++ {
		hit, err := p.hit(col, i)
		if err != nil {
			return nil, 0, err
		}
		b.UnsafeAppend(hit == want)
		if hit {
			n++
		}
	}
	return b.NewBooleanArray(), n, nil
}

// filter returns the rows of rec that match (match) or that do not.
func (p condPred) filter(ctx context.Context, rec arrow.RecordBatch, match bool) (arrow.RecordBatch, error) {
	idx := rec.Schema().FieldIndices(p.field.Name)
	if len(idx) != 1 {
		return nil, fmt.Errorf("column %q is not in the rows read", p.field.Name)
	}
	m, _, err := p.mask(rec.Column(idx[0]), match)
	if err != nil {
		return nil, err
	}
	defer m.Release()
	return compute.FilterRecordBatch(ctx, rec, m, compute.DefaultFilterOptions())
}

// mayHold reports whether a data file with these column bounds may hold a
// matching row: always, when a bound it needs is missing or unreadable.
// A STRING upper bound may be truncated, so it never rules a file out.
func (p condPred) mayHold(lower, upper map[int][]byte) bool {
	lo, okLo := p.bound(lower)
	hi, okHi := p.bound(upper)
	if _, isText := p.field.Type.(iceberg.StringType); isText {
		okHi = false
	}
	check := func(b scalar, ok bool, pass func(int) bool) bool {
		if !ok {
			return true
		}
		c, ok := b.compare(p.val)
		return !ok || pass(c)
	}
	switch p.cond.Op {
	case Equal:
		return check(lo, okLo, func(c int) bool { return c <= 0 }) && check(hi, okHi, func(c int) bool { return c >= 0 })
	case NotEqual:
		if !okLo || !okHi {
			return true
		}
		cl, ok1 := lo.compare(p.val)
		ch, ok2 := hi.compare(p.val)
		return !ok1 || !ok2 || cl != 0 || ch != 0
	case Less:
		return check(lo, okLo, func(c int) bool { return c < 0 })
	case LessOrEqual:
		return check(lo, okLo, func(c int) bool { return c <= 0 })
	case Greater:
		return check(hi, okHi, func(c int) bool { return c > 0 })
	case GreaterOrEqual:
		return check(hi, okHi, func(c int) bool { return c >= 0 })
	}
	return true
}

// bound decodes the field's bound in bounds into comparable form.
func (p condPred) bound(bounds map[int][]byte) (scalar, bool) {
	b, ok := bounds[p.field.ID]
	if !ok || b == nil {
		return scalar{}, false
	}
	lit, err := iceberg.LiteralFromBytes(p.field.Type, b)
	if err != nil && len(b) == 4 && p.field.Type.Equals(iceberg.PrimitiveTypes.Int64) {
		// A bound written before the column was promoted from int.
		lit, err = iceberg.LiteralFromBytes(iceberg.PrimitiveTypes.Int32, b)
	}
	if err != nil {
		return scalar{}, false
	}
	return literalScalar(lit)
}

// literalScalar is an Iceberg literal in comparable form.
func literalScalar(lit iceberg.Literal) (scalar, bool) {
	switch v := lit.(type) {
	case iceberg.Int32Literal:
		return scalar{kind: kindInt, i: int64(v)}, true
	case iceberg.Int64Literal:
		return scalar{kind: kindInt, i: int64(v)}, true
	case iceberg.DateLiteral:
		return scalar{kind: kindInt, i: int64(v)}, true
	case iceberg.TimestampLiteral:
		return scalar{kind: kindInt, i: int64(v)}, true
	case iceberg.Float64Literal:
		return scalar{kind: kindFloat, f: float64(v)}, true
	case iceberg.Float32Literal:
		return scalar{kind: kindFloat, f: float64(v)}, true
	case iceberg.DecimalLiteral:
		return scalar{kind: kindDecimal, d: v.Val}, true
	case iceberg.StringLiteral:
		return scalar{kind: kindText, s: string(v)}, true
	case iceberg.BoolLiteral:
		if v {
			return scalar{kind: kindBool, i: 1}, true
		}
		return scalar{kind: kindBool}, true
	}
	return scalar{}, false
}

// rewrite writes df again without its matching rows; replaced is false
// (and nothing is written) when it holds none.
func (p condPred) rewrite(ctx context.Context, w *writer, tbl *table.Table, df iceberg.DataFile) (outs []iceberg.DataFile, replaced bool, err error) {
	task := []table.FileScanTask{{File: df, Start: 0, Length: df.FileSizeBytes()}}
	// Pass 1: the column only, to learn whether df holds a matching row.
	_, recs, err := tbl.Scan(table.WithSelectedFields(p.field.Name)).ReadTasks(ctx, task)
	if err != nil {
		return nil, false, err
	}
	for rec, err := range recs {
		if err != nil {
			return nil, false, err
		}
		m, n, merr := p.mask(rec.Column(0), true)
		rec.Release()
		if merr != nil {
			return nil, false, merr
		}
		m.Release()
		if n > 0 {
			replaced = true
			break
		}
	}
	if !replaced {
		return nil, false, nil
	}
	// Pass 2: every column, less the matching rows, into new files.
	schema, recs, err := tbl.Scan().ReadTasks(ctx, task)
	if err != nil {
		return nil, false, err
	}
	kept := func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range recs {
			if err != nil {
				yield(nil, err)
				return
			}
			out, err := p.filter(ctx, rec, false)
			rec.Release()
			if err != nil {
				yield(nil, err)
				return
			}
			if out.NumRows() == 0 {
				out.Release()
				continue
			}
			if !yield(out, nil) {
				return
			}
		}
	}
	outs, err = w.writeFiles(ctx, tbl, schema, kept)
	return outs, true, err
}

// parquetMatches reports whether a Parquet file's column (found by field
// id, else by name) holds a matching row; a file without it holds none.
func (p condPred) parquetMatches(ctx context.Context, fsys icebergio.IO, path string) (bool, error) {
	return anyInParquetColumn(ctx, fsys, path, p.field, func(col arrow.Array) (bool, error) {
		m, n, err := p.mask(col, true)
		if err != nil {
			return false, err
		}
		m.Release()
		return n > 0, nil
	})
}

// ValidateCondition checks cond against the columns of dataset d: the
// column is one of them, the comparison one of the six (BOOLEAN: EQUAL or
// NOT_EQUAL only), and the value canonical text of the column's type.
// Errors are FieldErrors on "condition.column", "condition.comparison" or
// "condition.value" (which never repeats the value of a PII column).
func ValidateCondition(d *dataset.Dataset, cond Condition) error {
	c := d.Column(cond.Column)
	if c == nil {
		return fault.Invalid("condition.column", "dataset %s has no column %q", d.ID, cond.Column)
	}
	typ, err := icebergType(*c)
	if err != nil {
		return fault.Invalid("condition.column", "column %q: %v", c.Name, err)
	}
	sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: c.Name, Type: typ, Required: !c.Nullable})
	_, err = newCondPred(sc, cond)
	var fe *fault.FieldError
	if c.PII && errors.As(err, &fe) && fe.Field == "condition.value" {
		return fault.Invalid("condition.value", "is not a %s value (column %q is PII: the value is not repeated)", c.Type, c.Name)
	}
	return err
}
