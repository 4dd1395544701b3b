package csvstream

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/lakeplane/lakeplane/internal/pii"
)

func TestParseInt(t *testing.T) {
	tests := []struct {
		in     string
		bits   uint
		want   int64
		reason string // "" when good
	}{
		{"0", 32, 0, ""},
		{"42", 32, 42, ""},
		{"+42", 32, 42, ""},
		{"-42", 32, -42, ""},
		{"007", 32, 7, ""},
		{"2147483647", 32, 2147483647, ""},
		{"-2147483648", 32, -2147483648, ""},
		{"2147483648", 32, 0, "is out of range for int32"},
		{"-2147483649", 32, 0, "is out of range for int32"},
		{"9223372036854775807", 64, 9223372036854775807, ""},
		{"-9223372036854775808", 64, -9223372036854775808, ""},
		{"9223372036854775808", 64, 0, "is out of range for int64"},
		{"-9223372036854775809", 64, 0, "is out of range for int64"},
		{"99999999999999999999999", 64, 0, "is out of range for int64"},
		{"99999999999999999999999x", 64, 0, "is not an int64"},
		{"", 32, 0, "is not an int32"},
		{"-", 32, 0, "is not an int32"},
		{"+", 64, 0, "is not an int64"},
		{"1.0", 32, 0, "is not an int32"},
		{"1e3", 32, 0, "is not an int32"},
		{" 1", 32, 0, "is not an int32"},
		{"1 ", 32, 0, "is not an int32"},
		{"1,000", 64, 0, "is not an int64"},
		{"1_000", 64, 0, "is not an int64"},
		{"0x10", 64, 0, "is not an int64"},
		{"--1", 64, 0, "is not an int64"},
		{"١٢", 64, 0, "is not an int64"}, // Arabic-Indic digits
	}
	for _, tt := range tests {
		got, reason := parseInt([]byte(tt.in), tt.bits)
		if reason != tt.reason || (reason == "" && got != tt.want) {
			t.Errorf("parseInt(%q, %d) = %d, %q; want %d, %q", tt.in, tt.bits, got, reason, tt.want, tt.reason)
		}
	}
}

func TestParseFloat(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0", 0, true},
		{"-1.5", -1.5, true},
		{"1e3", 1000, true},
		{".5", 0.5, true},
		{"1.7976931348623157e308", 1.7976931348623157e308, true},
		{"1e400", 0, false},
		{"", 0, false},
		{" 1", 0, false},
		{"1,5", 0, false},
		{"abc", 0, false},
	}
	for _, tt := range tests {
		got, reason := parseFloat([]byte(tt.in))
		if (reason == "") != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseFloat(%q) = %v, %q; want %v ok=%v", tt.in, got, reason, tt.want, tt.ok)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, in := range []string{"true", "TRUE", "True", "1", "t", "T", "yes", "YES", "Yes", "y", "Y"} {
		if got, reason := parseBool([]byte(in)); reason != "" || !got {
			t.Errorf("parseBool(%q) = %v, %q; want true", in, got, reason)
		}
	}
	for _, in := range []string{"false", "FALSE", "False", "0", "f", "F", "no", "NO", "No", "n", "N"} {
		if got, reason := parseBool([]byte(in)); reason != "" || got {
			t.Errorf("parseBool(%q) = %v, %q; want false", in, got, reason)
		}
	}
	for _, in := range []string{"", "2", "tru", "yess", "on", "off", " true", "\x11", "nope", "falsy"} {
		if _, reason := parseBool([]byte(in)); reason == "" {
			t.Errorf("parseBool(%q) accepted, want an error", in)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in          string
		prec, scale int32
		want        string // unscaled integer; "" for an error
		reason      string // a part of the error
	}{
		{"12.5", 18, 2, "1250", ""},
		{"-0.01", 18, 2, "-1", ""},
		{"0", 18, 2, "0", ""},
		{"-0", 18, 2, "0", ""},
		{"+7", 5, 0, "7", ""},
		{"99999999999999999.99", 19, 2, "9999999999999999999", ""},
		{"-99999999999999999.99", 19, 2, "-9999999999999999999", ""},
		{"99999999999999999.99", 18, 2, "", "more than 16 digits before the point"},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999", ""},
		{"-9999999999999999999999999999999999999.9", 38, 1, "-99999999999999999999999999999999999999", ""},
		{"0000000000000000000000000000000000000000001.5", 2, 1, "15", ""},
		{".5", 18, 2, "50", ""},
		{"-.5", 18, 2, "-50", ""},
		{"1.", 18, 2, "100", ""},
		{"1.234", 18, 2, "", "more than 2 digits after the point"},
		{"1.230", 18, 2, "", "more than 2 digits after the point"},
		{"1.5", 10, 0, "", "more than 0 digits after the point"},
		{"123", 4, 2, "", "more than 2 digits before the point"},
		{"12.34", 4, 2, "1234", ""},
		{"0.99", 2, 2, "99", ""},
		{"1.00", 2, 2, "", "more than 0 digits before the point"},
		{"12,5", 18, 2, "", "is not a decimal(18,2)"},
		{"1,000.00", 18, 2, "", "is not a decimal(18,2)"},
		{"", 18, 2, "", "is not a decimal(18,2)"},
		{".", 18, 2, "", "is not a decimal"},
		{"-", 18, 2, "", "is not a decimal"},
		{"+.", 18, 2, "", "is not a decimal"},
		{"1e3", 18, 2, "", "is not a decimal"},
		{"1.2e1", 18, 2, "", "is not a decimal"},
		{" 1", 18, 2, "", "is not a decimal"},
		{"1 ", 18, 2, "", "is not a decimal"},
		{"1..2", 18, 2, "", "is not a decimal"},
		{"1.2.3", 18, 2, "", "is not a decimal"},
		{"--1", 18, 2, "", "is not a decimal"},
		{"1.234x", 18, 2, "", "is not a decimal(18,2)"},
		{"NaN", 18, 2, "", "is not a decimal"},
	}
	for _, tt := range tests {
		got, reason := parseDecimal([]byte(tt.in), tt.prec, tt.scale)
		if tt.want == "" {
			if reason == "" || !strings.Contains(reason, tt.reason) {
				t.Errorf("parseDecimal(%q, %d, %d) = %s, %q; want an error containing %q", tt.in, tt.prec, tt.scale, got.BigInt(), reason, tt.reason)
			}
			continue
		}
		if reason != "" || got.BigInt().String() != tt.want {
			t.Errorf("parseDecimal(%q, %d, %d) = %s, %q; want %s", tt.in, tt.prec, tt.scale, got.BigInt(), reason, tt.want)
		}
		if !got.FitsInPrecision(tt.prec) {
			t.Errorf("parseDecimal(%q, %d, %d) = %s does not fit the precision", tt.in, tt.prec, tt.scale, got.BigInt())
		}
	}
}

func TestParseDecimalMatchesArrowOnPlainValues(t *testing.T) {
	for _, in := range []string{"0.01", "-123456789012345.67", "42", "3.10", "-0.5"} {
		got, reason := parseDecimal([]byte(in), 18, 2)
		want, err := decimal128.FromString(in, 18, 2)
		if reason != "" || err != nil || got != want {
			t.Errorf("parseDecimal(%q) = %v %q; arrow says %v %v", in, got, reason, want, err)
		}
	}
}

func TestDaysFromCivilMatchesTime(t *testing.T) {
	for d := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 10000; d = d.AddDate(0, 0, 97) {
		want := d.Unix() / 86400
		if got := daysFromCivil(int64(d.Year()), int64(d.Month()), int64(d.Day())); got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", d.Format(time.DateOnly), got, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		layout, in string
		want       string // "" for an error
	}{
		{"", "2024-02-29", "2024-02-29"},
		{"", "1970-01-01", "1970-01-01"},
		{"", "1969-12-31", "1969-12-31"},
		{"", "0001-01-01", "0001-01-01"},
		{"", "9999-12-31", "9999-12-31"},
		{"", "2023-02-29", ""},
		{"", "2024-13-01", ""},
		{"", "2024-00-10", ""},
		{"", "2024-04-31", ""},
		{"", "2024-1-01", ""},
		{"", "2024/01/01", ""},
		{"", "2024-01-01 ", ""},
		{"", "2024-01-01T00:00:00", ""},
		{"", "", ""},
		{"20060102", "20240315", "2024-03-15"},
		{"20060102", "2024-03-15", ""},
		{"02/01/2006", "15/03/2024", "2024-03-15"},
		{"2006.01.02", "2024.02.30", ""},
	}
	for _, tt := range tests {
		p := newDateParser(tt.layout)
		days, reason := p.parse([]byte(tt.in))
		if tt.want == "" {
			if reason == "" {
				t.Errorf("date %q (layout %q) accepted as %d, want an error", tt.in, tt.layout, days)
			}
			continue
		}
		got := time.Unix(int64(days)*86400, 0).UTC().Format(time.DateOnly)
		if reason != "" || got != tt.want {
			t.Errorf("date %q (layout %q) = %s %q, want %s", tt.in, tt.layout, got, reason, tt.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		layout, in string
		want       string // RFC 3339 in UTC; "" for an error
	}{
		{"", "2024-03-15 10:20:30", "2024-03-15T10:20:30Z"},
		{"", "2024-03-15T10:20:30", "2024-03-15T10:20:30Z"},
		{"", "2024-03-15T10:20:30Z", "2024-03-15T10:20:30Z"},
		{"", "2024-03-15T10:20:30.5Z", "2024-03-15T10:20:30.5Z"},
		{"", "2024-03-15 10:20:30.123456", "2024-03-15T10:20:30.123456Z"},
		{"", "2024-03-15 10:20:30.123456000", "2024-03-15T10:20:30.123456Z"},
		{"", "2024-03-15T10:20:30+09:00", "2024-03-15T01:20:30Z"},
		{"", "2024-03-15T00:20:30+0900", "2024-03-14T15:20:30Z"},
		{"", "2024-03-15T10:20:30-05:30", "2024-03-15T15:50:30Z"},
		{"", "1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"},
		{"", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
		{"", "2024-03-15 10:20:30.1234567", ""},
		{"", "2024-03-15 10:20:30.", ""},
		{"", "2024-03-15 24:00:00", ""},
		{"", "2024-03-15 10:60:00", ""},
		{"", "2024-03-15 10:20:60", ""},
		{"", "2024-02-30 10:20:30", ""},
		{"", "2024-03-15", ""},
		{"", "2024-03-15 10:20", ""},
		{"", "2024-03-15 10:20:30 ", ""},
		{"", "2024-03-15 10:20:30+9", ""},
		{"", "2024-03-15 10:20:30+09:0", ""},
		{"", "2024-03-15 10:20:30+24:00", ""},
		{"", "2024-03-15 10:20:30ZZ", ""},
		{"", "2024-03-15X10:20:30", ""},
		{"", "", ""},
		{"2006/01/02 15:04", "2024/03/15 10:20", "2024-03-15T10:20:00Z"},
		{time.RFC1123Z, "Fri, 15 Mar 2024 10:20:30 +0900", "2024-03-15T01:20:30Z"},
		{"2006-01-02 15:04:05.999999999", "2024-03-15 10:20:30.123456789", ""},
		{"2006/01/02 15:04", "2024-03-15 10:20", ""},
	}
	for _, tt := range tests {
		p := newTimestampParser(tt.layout)
		micros, reason := p.parse([]byte(tt.in))
		if tt.want == "" {
			if reason == "" {
				t.Errorf("timestamp %q (layout %q) accepted as %d, want an error", tt.in, tt.layout, micros)
			}
			continue
		}
		got := time.UnixMicro(micros).UTC().Format(time.RFC3339Nano)
		if reason != "" || got != tt.want {
			t.Errorf("timestamp %q (layout %q) = %s %q, want %s", tt.in, tt.layout, got, reason, tt.want)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"김", "*"},
		{"홍길동", "***"},
		{"abcd", "****"},
		{"abcde", "a***e"},
		{"900101-1234567", "9************7"},
		{"남궁민수진", "남***진"},
	}
	for _, tt := range tests {
		if got := pii.Mask(tt.in); got != tt.want {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsersDoNotAllocate(t *testing.T) {
	date, ts := newDateParser(""), newTimestampParser("")
	values := map[string]func(){
		"int":       func() { parseInt([]byte("-123456789"), 64) },
		"double":    func() { parseFloat([]byte("-1234.5678e-3")) },
		"decimal":   func() { parseDecimal([]byte("-99999999999999999.99"), 19, 2) },
		"boolean":   func() { parseBool([]byte("YES")) },
		"date":      func() { date.parse([]byte("2024-02-29")) },
		"timestamp": func() { ts.parse([]byte("2024-03-15T10:20:30.123456+09:00")) },
	}
	for name, parse := range values {
		if n := testing.AllocsPerRun(100, parse); n != 0 {
			t.Errorf("%s: %v allocations per value", name, n)
		}
	}
}
