package eval

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

const microsPerDay = 86400_000_000

// ValueText is the text of row i of a as rules compare and report it (the
// form ReferenceLookup.ReferenceKeys gives keys in): NULL for a null, decimals with
// their scale, dates 2006-01-02, timestamps RFC 3339 in UTC.
func ValueText(a arrow.Array, i int) string { return text(a, i) }

// text renders value i of a as the CSV decoder reads it back: decimals with
// their scale, dates as 2006-01-02, timestamps as RFC 3339 in UTC.
func text(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
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
	return a.ValueStr(i)
}

// typeName is the DQDL name of an Arrow type, as ColumnDataType compares
// it.
func typeName(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.StringType:
		return "STRING"
	case *arrow.BooleanType:
		return "BOOLEAN"
	case *arrow.Int32Type:
		return "INTEGER"
	case *arrow.Int64Type:
		return "LONG"
	case *arrow.Float64Type:
		return "DOUBLE"
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case *arrow.Date32Type:
		return "DATE"
	case *arrow.TimestampType:
		return "TIMESTAMP"
	}
	return strings.ToUpper(t.String())
}

// typeMatches reports whether the DQDL type name want names the column
// type got. INT and INT32 are INTEGER; BIGINT and INT64 are LONG; DECIMAL
// matches any precision and scale.
func typeMatches(want, got string) bool {
	w := strings.ToUpper(strings.TrimSpace(want))
	switch w {
	case "INT", "INT32":
		w = "INTEGER"
	case "BIGINT", "INT64":
		w = "LONG"
	case "FLOAT64":
		w = "DOUBLE"
	case "BOOL":
		w = "BOOLEAN"
	case "VARCHAR", "TEXT":
		w = "STRING"
	}
	if w == "DECIMAL" {
		return strings.HasPrefix(got, "DECIMAL(")
	}
	return w == strings.ReplaceAll(got, " ", "")
}

// castable reports whether the text s can be read as the DQDL type name
// want (for ColumnDataType on STRING columns).
func castable(want, s string) bool {
	switch strings.ToUpper(strings.TrimSpace(want)) {
	case "STRING", "VARCHAR", "TEXT":
		return true
	case "INTEGER", "INT", "INT32":
		_, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		return err == nil
	case "LONG", "BIGINT", "INT64":
		_, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return err == nil
	case "DOUBLE", "FLOAT", "FLOAT64":
		_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return err == nil
	case "DECIMAL":
		_, ok := parseNumber(s)
		return ok
	case "BOOLEAN", "BOOL":
		_, err := strconv.ParseBool(strings.TrimSpace(s))
		return err == nil
	case "DATE":
		_, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
		return err == nil
	case "TIMESTAMP":
		_, err := parseTime(s)
		return err == nil
	}
	return false
}

// parseNumber reads a decimal number (digits, an optional sign, fraction
// and exponent) exactly.
func parseNumber(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/_") {
		return nil, false
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		var ne *strconv.NumError
		if !asNumError(err, &ne) || ne.Err != strconv.ErrRange {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func asNumError(err error, target **strconv.NumError) bool {
	ne, ok := err.(*strconv.NumError)
	if ok {
		*target = ne
	}
	return ok
}

// parseTime reads a date or a timestamp: 2006-01-02, ISO 8601 with T or a
// space, an optional fraction and zone (UTC when absent).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or timestamp", s)
}

func durationMicros(v dqdl.Value) int64 {
	switch v.Unit {
	case "days":
		return v.Amount * microsPerDay
	case "hours":
		return v.Amount * 3600_000_000
	}
	return v.Amount * 60_000_000
}

// nowMicros is now() with v's offset, in microseconds since the epoch.
func nowMicros(v dqdl.Value, now time.Time) int64 {
	us := now.UnixMicro()
	switch v.Sign {
	case '+':
		us += durationMicros(v)
	case '-':
		us -= durationMicros(v)
	}
	return us
}

// constant converts operand v to the number domain of column type t: the
// unscaled value for decimals, days for dates, microseconds for
// timestamps. ok is false for keywords (NULL, EMPTY, WHITESPACES_ONLY),
// which compare with no number.
func constant(v dqdl.Value, t arrow.DataType, now time.Time) (r *big.Rat, ok bool, err error) {
	switch v.Kind {
	case dqdl.Null, dqdl.Empty, dqdl.WhitespacesOnly:
		return nil, false, nil
	}
	switch t := t.(type) {
	case *arrow.Int32Type, *arrow.Int64Type, *arrow.Float64Type, *arrow.StringType:
		if v.Kind != dqdl.Number {
			return nil, false, fmt.Errorf("%s cannot be compared with a %s column", v, typeName(t))
		}
		r, ok := new(big.Rat).SetString(v.Text)
		if !ok {
			return nil, false, fmt.Errorf("%s is not a number", v.Text)
		}
		return r, true, nil
	case *arrow.Decimal128Type:
		if v.Kind != dqdl.Number {
			return nil, false, fmt.Errorf("%s cannot be compared with a %s column", v, typeName(t))
		}
		r, ok := new(big.Rat).SetString(v.Text)
		if !ok {
			return nil, false, fmt.Errorf("%s is not a number", v.Text)
		}
		return r.Mul(r, new(big.Rat).SetInt(pow10(int(t.Scale)))), true, nil
	case *arrow.Date32Type, *arrow.TimestampType:
		var us *big.Rat
		switch v.Kind {
		case dqdl.Now:
			us = new(big.Rat).SetInt64(nowMicros(v, now))
		case dqdl.String:
			tm, err := parseTime(v.Text)
			if err != nil {
				return nil, false, err
			}
			us = new(big.Rat).SetInt64(tm.UnixMicro())
		default:
			return nil, false, fmt.Errorf("%s cannot be compared with a %s column: use a date such as \"2024-01-31\" or now()", v, typeName(t))
		}
		if _, isDate := t.(*arrow.Date32Type); isDate {
			us.Quo(us, new(big.Rat).SetInt64(microsPerDay))
		}
		return us, true, nil
	}
	return nil, false, fmt.Errorf("%s cannot be compared with a %s column", v, typeName(t))
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// formatRat prints r exactly: as a decimal when it has a finite one of at
// most 20 fraction digits, otherwise as the fraction p/q.
func formatRat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	d := new(big.Int).Set(r.Denom())
	n := 0
	two, five := big.NewInt(2), big.NewInt(5)
	var m big.Int
	for _, f := range []*big.Int{two, five} {
		for {
			q, rem := new(big.Int).QuoRem(d, f, &m)
			if rem.Sign() != 0 {
				break
			}
			d = q
		}
	}
	if d.Cmp(big.NewInt(1)) == 0 {
		for n = 1; n <= 20; n++ {
			scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(pow10(n)))
			if scaled.IsInt() {
				return r.FloatString(n)
			}
		}
	}
	return r.String()
}

// ratio returns num/den as a rational; 1 when den is 0 (nothing to fail).
func ratio(num, den int64) *big.Rat {
	if den == 0 {
		return big.NewRat(1, 1)
	}
	return big.NewRat(num, den)
}
