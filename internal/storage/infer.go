package storage

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"golang.org/x/text/encoding/korean"
)

// The layouts DiscoverSchema recognises, most usual first.
var (
	dateLayouts      = []string{"2006-01-02", "2006/01/02", "2006.01.02", "01/02/2006", "02.01.2006"}
	timestampLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", time.RFC3339, "2006/01/02 15:04:05", "2006-01-02 15:04"}
)

// colType is an inferred column type.
type colType struct {
	typ    dataset.ColumnType
	digits int    // INT32, INT64, DECIMAL: the most integer digits seen
	scale  int    // DECIMAL
	layout string // DATE, TIMESTAMP
}

// String names the type as the API does, with precision and format.
func (c colType) String() string {
	switch c.typ {
	case dataset.TypeDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", c.digits+c.scale, c.scale)
	case dataset.TypeDate, dataset.TypeTimestamp:
		return fmt.Sprintf("%s(%s)", c.typ, c.layout)
	}
	return string(c.typ)
}

// widen returns the narrowest type that holds the values of a and b.
func widen(a, b colType) colType {
	if a.typ == b.typ && a.layout == b.layout {
		a.digits, a.scale = max(a.digits, b.digits), max(a.scale, b.scale)
		if a.typ == dataset.TypeDecimal && a.digits+a.scale > dataset.MaxDecimalPrecision {
			return colType{typ: dataset.TypeString}
		}
		return a
	}
	numeric := func(t dataset.ColumnType) bool {
		return t == dataset.TypeInt32 || t == dataset.TypeInt64 || t == dataset.TypeDecimal
	}
	if numeric(a.typ) && numeric(b.typ) {
		out := colType{typ: dataset.TypeInt64, digits: max(a.digits, b.digits), scale: max(a.scale, b.scale)}
		if a.typ == dataset.TypeDecimal || b.typ == dataset.TypeDecimal {
			out.typ = dataset.TypeDecimal
			if out.digits+out.scale > dataset.MaxDecimalPrecision {
				return colType{typ: dataset.TypeString}
			}
		}
		return out
	}
	return colType{typ: dataset.TypeString}
}

// colStats gathers what a column's sampled values allow.
type colStats struct {
	nonNull, nulls int64
	boolOK, intOK  bool
	fits32, fits64 bool
	decOK          bool
	digits, scale  int
	dates, stamps  uint32 // bit i: the value parses with layout i
}

func newColStats() *colStats {
	return &colStats{boolOK: true, intOK: true, fits32: true, fits64: true, decOK: true,
		dates: 1<<len(dateLayouts) - 1, stamps: 1<<len(timestampLayouts) - 1}
}

// observe adds one non-null value.
func (c *colStats) observe(v string) {
	c.nonNull++
	if c.boolOK && !isBool(v) {
		c.boolOK = false
	}
	intDigits, scale, ok := parseNumber(v)
	if !ok {
		c.intOK, c.decOK = false, false
	} else {
		if scale > 0 {
			c.intOK = false
		}
		c.digits, c.scale = max(c.digits, intDigits), max(c.scale, scale)
		if c.intOK {
			if _, err := strconv.ParseInt(v, 10, 32); err != nil {
				c.fits32 = false
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				c.fits64 = false
			}
		}
	}
	c.dates = matchLayouts(c.dates, dateLayouts, v)
	c.stamps = matchLayouts(c.stamps, timestampLayouts, v)
}

// matchLayouts clears the bits of mask whose layouts do not parse v.
func matchLayouts(mask uint32, layouts []string, v string) uint32 {
	for i, l := range layouts {
		if mask&(1<<i) == 0 {
			continue
		}
		if len(v) < 6 || len(v) > 40 {
			mask &^= 1 << i
			continue
		}
		if _, err := time.Parse(l, v); err != nil {
			mask &^= 1 << i
		}
	}
	return mask
}

// result is the column's type; ok is false when no value was seen.
func (c *colStats) result() (colType, bool) {
	switch {
	case c.nonNull == 0:
		return colType{typ: dataset.TypeString}, false
	case c.boolOK:
		return colType{typ: dataset.TypeBoolean}, true
	case c.intOK && c.fits32:
		return colType{typ: dataset.TypeInt32, digits: c.digits}, true
	case c.intOK && c.fits64:
		return colType{typ: dataset.TypeInt64, digits: c.digits}, true
	case c.decOK && c.digits+c.scale <= dataset.MaxDecimalPrecision:
		return colType{typ: dataset.TypeDecimal, digits: max(c.digits, 1), scale: c.scale}, true
	case c.dates != 0:
		return colType{typ: dataset.TypeDate, layout: dateLayouts[lowestBit(c.dates)]}, true
	case c.stamps != 0:
		return colType{typ: dataset.TypeTimestamp, layout: timestampLayouts[lowestBit(c.stamps)]}, true
	}
	return colType{typ: dataset.TypeString}, true
}

func lowestBit(m uint32) int {
	for i := 0; i < 32; i++ {
		if m&(1<<i) != 0 {
			return i
		}
	}
	return 0
}

// isBool reports whether v spells a boolean.
func isBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false":
		return true
	}
	return false
}

// parseNumber parses an exact decimal number: an optional sign, digits,
// and optionally "." and more digits. A number with a superfluous leading
// zero ("007", an identifier, not a number) is not one.
func parseNumber(v string) (intDigits, scale int, ok bool) {
	s := strings.TrimPrefix(strings.TrimPrefix(v, "-"), "+")
	ip, fp, hasDot := strings.Cut(s, ".")
	if ip == "" || (hasDot && fp == "") || !allDigits(ip) || !allDigits(fp) {
		return 0, 0, false
	}
	if len(ip) > 1 && ip[0] == '0' {
		return 0, 0, false
	}
	return len(ip), len(fp), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// detectEncoding tells UTF-8 from CP949 by a sample's bytes: valid UTF-8
// (but for a character cut at the sample's end) is UTF-8; else bytes that
// decode as CP949 without error are CP949. ok is false when neither fits.
func detectEncoding(sample []byte) (enc csvstream.Encoding, ok bool) {
	trimmed := sample
	for i := 0; i < utf8.UTFMax && len(trimmed) > 0 && !utf8.Valid(trimmed); i++ {
		trimmed = trimmed[:len(trimmed)-1]
	}
	if utf8.Valid(trimmed) && len(sample)-len(trimmed) < utf8.UTFMax {
		return csvstream.UTF8, true
	}
	out, err := korean.EUCKR.NewDecoder().Bytes(sample)
	if err == nil && bytes.Count(out, []byte("\uFFFD")) <= 1 { // one: a cut last character
		return csvstream.CP949, true
	}
	return csvstream.UTF8, false
}

// delimiters are the delimiters DiscoverSchema tells apart.
var delimiters = []byte{',', ';', '|', '\t'}

// detectDelimiter picks the delimiter of the first lines of text: the
// candidate that splits every line into the same number of fields, the
// most fields winning; failing that, the one most frequent on the line
// where it is rarest. Delimiters inside quotes do not count.
func detectDelimiter(text []byte, quote byte) byte {
	const maxLines = 30
	counts := make([][]int, len(delimiters))
	inQuotes := false
	line := make([]int, len(delimiters))
	lines := 0
	flush := func() {
		for i := range delimiters {
			counts[i] = append(counts[i], line[i])
			line[i] = 0
		}
		lines++
	}
	empty := true
	for _, b := range text {
		if lines == maxLines {
			break
		}
		switch {
		case b == quote:
			inQuotes = !inQuotes
			empty = false
		case inQuotes:
		case b == '\n':
			if !empty {
				flush()
			}
			empty = true
		case b != '\r':
			empty = false
			for i, d := range delimiters {
				if b == d {
					line[i]++
				}
			}
		}
	}
	if lines == 0 && !empty {
		flush()
	}
	best, bestScore, bestConsistent := byte(','), 0, false
	for i, d := range delimiters {
		if len(counts[i]) == 0 {
			continue
		}
		lo, consistent := counts[i][0], true
		for _, c := range counts[i] {
			lo = min(lo, c)
			consistent = consistent && c == counts[i][0]
		}
		if lo == 0 {
			continue
		}
		if (consistent && !bestConsistent) || (consistent == bestConsistent && lo > bestScore) {
			best, bestScore, bestConsistent = d, lo, consistent
		}
	}
	return best
}

// columnName turns a header into a valid column name: lower case, runs of
// other characters as "_", "c_" before a leading digit; col_<n> (1-based)
// when nothing is left.
func columnName(header string, n int) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(header)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
		} else {
			under = true
		}
	}
	s := b.String()
	if s == "" {
		return fmt.Sprintf("col_%d", n)
	}
	if s[0] >= '0' && s[0] <= '9' {
		s = "c_" + s
	}
	if len(s) > dataset.MaxNameLength-8 {
		s = s[:dataset.MaxNameLength-8]
	}
	return s
}

// idPart turns a folder name into a part of a dataset id.
func idPart(s string) string {
	name := columnName(s, 0)
	if name == "col_0" {
		return "discovered"
	}
	return name
}

// partitionFolder splits a Hive-style folder name "key=value"; ok is false
// for any other folder.
func partitionFolder(seg string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(seg, "=")
	if !ok || key == "" || strings.Contains(value, "=") {
		return "", "", false
	}
	return key, value, true
}
