package csvstream

import (
	"bytes"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// The parsers below read a field's bytes exactly, without allocating on
// success, and return a reason ("" when the value is good) that follows the
// quoted value in an error message.

// parseInt reads a base-10 integer with an optional sign that fits in
// bitSize bits. Spaces, a fraction or an exponent make it not an integer.
func parseInt(b []byte, bitSize uint) (int64, string) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, notInt(bitSize)
	}
	limit := uint64(1)<<(bitSize-1) - 1 // largest magnitude of a positive value
	if neg {
		limit++
	}
	var u uint64
	over := false
	for ; i < len(b); i++ {
		d := uint64(b[i] - '0')
		if d > 9 {
			return 0, notInt(bitSize)
		}
		if u > (limit-d)/10 {
			over = true // keep reading: a later non-digit makes it not a number
			continue
		}
		u = u*10 + d
	}
	if over {
		return 0, fmt.Sprintf("is out of range for int%d", bitSize)
	}
	if neg {
		return -int64(u), "" // wraps to the right value for the most negative one
	}
	return int64(u), ""
}

func notInt(bitSize uint) string { return fmt.Sprintf("is not an int%d", bitSize) }

// parseFloat reads a DOUBLE with strconv.ParseFloat; a value out of range
// is an error rather than an infinity.
func parseFloat(b []byte) (float64, string) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, "is out of range for a double"
		}
		return 0, "is not a double"
	}
	return f, ""
}

// parseBool reads true/false, 1/0, t/f, yes/no and y/n in any case.
func parseBool(b []byte) (bool, string) {
	switch len(b) {
	case 1:
		switch b[0] {
		case '1', 't', 'T', 'y', 'Y':
			return true, ""
		case '0', 'f', 'F', 'n', 'N':
			return false, ""
		}
	case 2:
		if bytes.EqualFold(b, []byte("no")) {
			return false, ""
		}
	case 3:
		if bytes.EqualFold(b, []byte("yes")) {
			return true, ""
		}
	case 4:
		if bytes.EqualFold(b, []byte("true")) {
			return true, ""
		}
	case 5:
		if bytes.EqualFold(b, []byte("false")) {
			return false, ""
		}
	}
	return false, "is not a boolean (true/false, 1/0, t/f, yes/no, y/n)"
}

// parseDecimal reads a decimal(prec, scale) exactly from its text: an
// optional sign, digits, and optionally a point followed by at most scale
// digits (".5" and "1." are read as 0.5 and 1). It returns the unscaled
// integer, e.g. 1250 for "12.5" with scale 2. Nothing is rounded: a digit
// past the scale, or more than prec-scale digits before the point (leading
// zeros aside), is an error, and so are exponents, spaces and separators.
func parseDecimal(b []byte, prec, scale int32) (decimal128.Num, string) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	var hi, lo uint64
	digits := 0 // digits read, leading zeros included
	intSig := 0 // significant digits before the point
	fracN := 0  // digits after the point
	for ; i < len(b) && b[i]-'0' <= 9; i++ {
		digits++
		if intSig == 0 && b[i] == '0' {
			continue
		}
		intSig++
		if int32(intSig) > prec-scale {
			return decimal128.Num{}, fmt.Sprintf("is not a decimal(%d,%d): more than %d digits before the point", prec, scale, prec-scale)
		}
		hi, lo = mulAdd10(hi, lo, uint64(b[i]-'0'))
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i]-'0' <= 9; i++ {
			digits++
			fracN++
			if int32(fracN) > scale {
				// Keep reading so that "1.2x" is reported as not a number.
				continue
			}
			hi, lo = mulAdd10(hi, lo, uint64(b[i]-'0'))
		}
	}
	if i != len(b) || digits == 0 {
		return decimal128.Num{}, fmt.Sprintf("is not a decimal(%d,%d)", prec, scale)
	}
	if int32(fracN) > scale {
		return decimal128.Num{}, fmt.Sprintf("is not a decimal(%d,%d): more than %d digits after the point", prec, scale, scale)
	}
	for n := int32(fracN); n < scale; n++ {
		hi, lo = mulAdd10(hi, lo, 0)
	}
	// At most 38 digits: below 2^127, so the sign bit is clear.
	v := decimal128.New(int64(hi), lo)
	if neg {
		v = v.Negate()
	}
	return v, ""
}

// mulAdd10 returns the 128-bit hi:lo*10 + d.
func mulAdd10(hi, lo, d uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	h += hi * 10
	l, c := bits.Add64(l, d, 0)
	return h + c, l
}

// dateParser reads DATE values as days since 1970-01-01.
type dateParser struct {
	layout string // "" for the ISO fast path
	reason string
}

func newDateParser(layout string) dateParser {
	if layout == "" || layout == time.DateOnly {
		return dateParser{reason: `is not a date (want YYYY-MM-DD)`}
	}
	return dateParser{layout: layout, reason: fmt.Sprintf("is not a date (want layout %q)", layout)}
}

func (p *dateParser) parse(b []byte) (int32, string) {
	if p.layout == "" {
		if y, m, d, ok := isoDate(b); ok && len(b) == 10 {
			return int32(daysFromCivil(y, m, d)), ""
		}
		return 0, p.reason
	}
	t, err := time.Parse(p.layout, string(b))
	if err != nil {
		return 0, p.reason
	}
	y, m, d := t.Date()
	return int32(daysFromCivil(int64(y), int64(m), int64(d))), ""
}

// timestampParser reads TIMESTAMP values as microseconds since the epoch,
// UTC.
type timestampParser struct {
	layout string // "" for ISO 8601
	reason string
}

func newTimestampParser(layout string) timestampParser {
	if layout == "" {
		return timestampParser{reason: `is not a timestamp (want ISO 8601, e.g. "2006-01-02 15:04:05.999999" or "2006-01-02T15:04:05+09:00")`}
	}
	return timestampParser{layout: layout, reason: fmt.Sprintf("is not a timestamp (want layout %q)", layout)}
}

const finerThanMicros = "is more precise than microseconds"

func (p *timestampParser) parse(b []byte) (int64, string) {
	if p.layout == "" {
		return p.parseISO(b)
	}
	t, err := time.Parse(p.layout, string(b))
	if err != nil {
		return 0, p.reason
	}
	if t.Nanosecond()%1000 != 0 {
		return 0, finerThanMicros
	}
	return t.UnixMicro(), ""
}

// parseISO reads "YYYY-MM-DD[T ]hh:mm:ss[.fraction][Z|±hh:mm|±hhmm]".
func (p *timestampParser) parseISO(b []byte) (int64, string) {
	y, mo, d, ok := isoDate(b)
	if !ok || len(b) < 19 || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, p.reason
	}
	h, ok1 := twoDigits(b[11:13])
	mi, ok2 := twoDigits(b[14:16])
	s, ok3 := twoDigits(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 59 {
		return 0, p.reason
	}
	i := 19
	var micros int64
	if i < len(b) && b[i] == '.' {
		i++
		n := 0
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			n++
			if n <= 6 {
				micros = micros*10 + int64(b[i]-'0')
			} else if b[i] != '0' {
				return 0, finerThanMicros
			}
		}
		if n == 0 || n > 9 {
			return 0, p.reason
		}
		for ; n < 6; n++ {
			micros *= 10
		}
	}
	var offset int64 // seconds east of UTC
	if i < len(b) {
		switch c := b[i]; {
		case (c == 'Z' || c == 'z') && i+1 == len(b):
		case c == '+' || c == '-':
			z := b[i+1:]
			var oh, om int64
			var okh, okm bool
			switch len(z) {
			case 5:
				if z[2] != ':' {
					return 0, p.reason
				}
				oh, okh = twoDigits(z[0:2])
				om, okm = twoDigits(z[3:5])
			case 4:
				oh, okh = twoDigits(z[0:2])
				om, okm = twoDigits(z[2:4])
			default:
				return 0, p.reason
			}
			if !okh || !okm || oh > 23 || om > 59 {
				return 0, p.reason
			}
			offset = oh*3600 + om*60
			if c == '-' {
				offset = -offset
			}
		default:
			return 0, p.reason
		}
	}
	secs := daysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + s - offset
	return secs*1_000_000 + micros, ""
}

// isoDate reads "YYYY-MM-DD" at the start of b and checks that the day
// exists.
func isoDate(b []byte) (y, m, d int64, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	y1, ok1 := twoDigits(b[0:2])
	y2, ok2 := twoDigits(b[2:4])
	m, ok3 := twoDigits(b[5:7])
	d, ok4 := twoDigits(b[8:10])
	y = y1*100 + y2
	if !ok1 || !ok2 || !ok3 || !ok4 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func twoDigits(b []byte) (int64, bool) {
	d1, d2 := b[0]-'0', b[1]-'0'
	if d1 > 9 || d2 > 9 {
		return 0, false
	}
	return int64(d1)*10 + int64(d2), true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the proleptic
// Gregorian date y-m-d (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
