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
	"golang.org/x/text/encoding/korean"

	"github.com/lakeplane/lakeplane/internal/fault"
)

var (
	tsUTC   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsLocal = &arrow.TimestampType{Unit: arrow.Microsecond}
	dec182  = &arrow.Decimal128Type{Precision: 18, Scale: 2}
)

func TestDecodeEveryType(t *testing.T) {
	cols := []Column{
		col("s", arrow.BinaryTypes.String),
		col("b", arrow.FixedWidthTypes.Boolean),
		col("i32", arrow.PrimitiveTypes.Int32),
		col("i64", arrow.PrimitiveTypes.Int64),
		col("f", arrow.PrimitiveTypes.Float64),
		col("d", dec182),
		col("day", arrow.FixedWidthTypes.Date32),
		col("ts", tsUTC),
		col("tsl", tsLocal),
	}
	input := "s,b,i32,i64,f,d,day,ts,tsl\n" +
		"hello,true,-2147483648,9223372036854775807,1.5,12.5,2024-02-29,2024-03-15 10:20:30.5,2024-03-15T10:20:30+09:00\n" +
		"\"a,b\",N,+7,-1,-0.25,-0.01,1970-01-01,1970-01-01T00:00:00Z,1969-12-31 23:59:59.999999\n" +
		",,,,,,,,\n"
	want := [][]string{
		{"hello", "true", "-2147483648", "9223372036854775807", "1.5", "12.50", "2024-02-29", "2024-03-15T10:20:30.5Z", "2024-03-15T01:20:30Z"},
		{"a,b", "false", "7", "-1", "-0.25", "-0.01", "1970-01-01", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z"},
		{"", null, null, null, null, null, null, null, null},
	}
	if got := mustDecode(t, input, cols, Format{Header: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%q\nwant\n%q", got, want)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		typ    arrow.DataType
		value  string
		reason string
	}{
		{arrow.PrimitiveTypes.Int32, "2147483648", "is out of range for int32"},
		{arrow.PrimitiveTypes.Int32, "1.0", "is not an int32"},
		{arrow.PrimitiveTypes.Int64, "1e3", "is not an int64"},
		{arrow.PrimitiveTypes.Int64, " 5", "is not an int64"},
		{arrow.PrimitiveTypes.Float64, "1,5", "is not a double"},
		{arrow.PrimitiveTypes.Float64, "1e999", "is out of range for a double"},
		{dec182, "12,5", "is not a decimal(18,2)"},
		{dec182, "1.234", "more than 2 digits after the point"},
		{&arrow.Decimal128Type{Precision: 5, Scale: 2}, "1234.5", "more than 3 digits before the point"},
		{arrow.FixedWidthTypes.Boolean, "maybe", "is not a boolean"},
		{arrow.FixedWidthTypes.Date32, "2024-02-30", "is not a date"},
		{tsUTC, "2024-03-15 10:20", "is not a timestamp"},
		{tsUTC, "2024-03-15 10:20:30.1234567", "is more precise than microseconds"},
		{arrow.BinaryTypes.String, "caf\xe9", "is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.typ, tt.value), func(t *testing.T) {
			cols := []Column{col("id", arrow.PrimitiveTypes.Int64), col("premium", tt.typ)}
			good := map[arrow.Type]string{
				arrow.STRING: "ok", arrow.BOOL: "true", arrow.DATE32: "2024-01-01", arrow.TIMESTAMP: "2024-01-01 00:00:00",
			}[tt.typ.ID()]
			if good == "" {
				good = "0"
			}
			input := "id,premium\n1," + good + "\n2,\"" + tt.value + "\"\n"
			re := firstError(t, input, cols, Format{Header: true})
			if re.Line != 3 || re.Column != "premium" || re.Value != tt.value || !strings.Contains(re.Reason, tt.reason) {
				t.Errorf("got %+v, want line 3, column premium, value %q, reason containing %q", re, tt.value, tt.reason)
			}
			wantMsg := fmt.Sprintf("line 3, column \"premium\": %q %s", tt.value, re.Reason)
			if re.Error() != wantMsg {
				t.Errorf("Error() = %s, want %s", re.Error(), wantMsg)
			}
		})
	}
}

func TestRowErrorMessageAndFault(t *testing.T) {
	lines := []string{"id,premium"}
	for i := 2; i < 1042; i++ {
		lines = append(lines, fmt.Sprintf("%d,%d.00", i, i))
	}
	lines = append(lines, `1042,"12,5"`)
	cols := []Column{col("id", arrow.PrimitiveTypes.Int64), col("premium", dec182)}
	re := firstError(t, strings.Join(lines, "\n"), cols, Format{Header: true})
	const want = `line 1042, column "premium": "12,5" is not a decimal(18,2)`
	if re.Error() != want {
		t.Errorf("Error() = %s, want %s", re.Error(), want)
	}
	if !reflect.DeepEqual(re.Raw, []string{"1042", "12,5"}) {
		t.Errorf("Raw = %q", re.Raw)
	}
	var fe *fault.FieldError
	if !errors.As(error(re), &fe) {
		t.Fatal("errors.As found no *fault.FieldError")
	}
	wantFault := &fault.FieldError{Field: "source", Row: 1042, Column: "premium", Reason: `"12,5" is not a decimal(18,2)`}
	if !reflect.DeepEqual(fe, wantFault) {
		t.Errorf("fault = %+v, want %+v", fe, wantFault)
	}
	if got := fault.FieldErrors(fmt.Errorf("ingest: %w", re)); len(got) != 1 || !reflect.DeepEqual(got[0], wantFault) {
		t.Errorf("fault.FieldErrors = %+v", got)
	}
}

func TestNonNullableNull(t *testing.T) {
	cols := []Column{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}
	re := firstError(t, "id,name\n1,a\n,b\n", cols, Format{Header: true})
	if re.Line != 3 || re.Column != "id" || !strings.Contains(re.Reason, "not nullable") {
		t.Errorf("got %v", re)
	}
	re = firstError(t, "id,name\n1,NULL\n", cols, Format{Header: true, NullValues: []string{"NULL"}})
	if re.Line != 2 || re.Column != "name" || re.Value != "NULL" {
		t.Errorf("got %v", re)
	}
	// The empty string is a value, not a null, in a STRING column.
	if got := mustDecode(t, "id,name\n1,\n", cols, Format{Header: true}); got[0][1] != "" {
		t.Errorf("got %q", got)
	}
}

func TestNullValues(t *testing.T) {
	cols := []Column{col("s", arrow.BinaryTypes.String), col("n", arrow.PrimitiveTypes.Int32), col("d", arrow.FixedWidthTypes.Date32)}
	input := "s,n,d\n,,\nNULL,NULL,NULL\n\\N,\\N,\\N\n\"\",\"\",\"\"\nnull,1,2024-01-01\n"
	tests := []struct {
		name  string
		nulls []string
		want  [][]string
		err   string
	}{
		{"empty is null outside strings", nil, nil, `"NULL" is not an int32`},
		{"tokens", []string{"NULL", `\N`}, [][]string{
			{"", null, null},
			{null, null, null},
			{null, null, null},
			{"", null, null},
			{"null", "1", "2024-01-01"},
		}, ""},
		{"empty listed", []string{"", "NULL", `\N`}, [][]string{
			{null, null, null},
			{null, null, null},
			{null, null, null},
			{null, null, null},
			{"null", "1", "2024-01-01"},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Format{Header: true, NullValues: tt.nulls}
			if tt.err != "" {
				if re := firstError(t, input, cols, f); !strings.Contains(re.Error(), tt.err) {
					t.Errorf("error %v, want %s", re, tt.err)
				}
				return
			}
			if got := mustDecode(t, input, cols, f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRFC4180(t *testing.T) {
	cols := strCols("a", "b", "c")
	tests := []struct {
		name, input string
		want        [][]string
	}{
		{"plain LF", "a,b,c\n1,2,3\n", [][]string{{"1", "2", "3"}}},
		{"CRLF", "a,b,c\r\n1,2,3\r\n4,5,6\r\n", [][]string{{"1", "2", "3"}, {"4", "5", "6"}}},
		{"no final newline", "a,b,c\n1,2,3", [][]string{{"1", "2", "3"}}},
		{"no final newline, CR", "a,b,c\n1,2,3\r", [][]string{{"1", "2", "3"}}},
		{"empty last field", "a,b,c\n1,2,\n", [][]string{{"1", "2", ""}}},
		{"empty last field at EOF", "a,b,c\n1,2,", [][]string{{"1", "2", ""}}},
		{"quoted delimiter", "a,b,c\n\"1,5\",2,3\n", [][]string{{"1,5", "2", "3"}}},
		{"doubled quotes", "a,b,c\n\"say \"\"hi\"\"\",\"\"\"\",\"\"\n", [][]string{{`say "hi"`, `"`, ""}}},
		{"quoted newline LF", "a,b,c\n\"line1\nline2\",2,3\n", [][]string{{"line1\nline2", "2", "3"}}},
		{"quoted newline CRLF kept", "a,b,c\r\n\"line1\r\nline2\",2,3\r\n", [][]string{{"line1\r\nline2", "2", "3"}}},
		{"quoted last field CRLF", "a,b,c\r\n1,2,\"3\"\r\n", [][]string{{"1", "2", "3"}}},
		{"quoted at EOF", "a,b,c\n1,2,\"3\"", [][]string{{"1", "2", "3"}}},
		{"lone CR is data", "a,b,c\n1\r2,2,3\n", [][]string{{"1\r2", "2", "3"}}},
		{"blank lines skipped", "a,b,c\n\n1,2,3\n\r\n\n4,5,6\n\n", [][]string{{"1", "2", "3"}, {"4", "5", "6"}}},
		{"spaces kept", "a,b,c\n 1 , 2,3 \n", [][]string{{" 1 ", " 2", "3 "}}},
		{"BOM", "\xEF\xBB\xBFa,b,c\n1,2,3\n", [][]string{{"1", "2", "3"}}},
		{"BOM quoted header", "\xEF\xBB\xBF\"a\",b,c\n1,2,3\n", [][]string{{"1", "2", "3"}}},
		{"header padded", " a ,\tb,c \n1,2,3\n", [][]string{{"1", "2", "3"}}},
		{"Korean", "a,b,c\n홍길동,\"서울, 강남\",똠\n", [][]string{{"홍길동", "서울, 강남", "똠"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustDecode(t, tt.input, cols, Format{Header: true}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineNumbersAfterQuotedNewlines(t *testing.T) {
	cols := []Column{col("id", arrow.PrimitiveTypes.Int32), col("note", arrow.BinaryTypes.String)}
	input := "id,note\n" + // line 1
		"1,\"first\nsecond\nthird\"\n" + // lines 2-4
		"2,plain\n" + // line 5
		"\n" + // line 6, blank
		"3,\"a\r\nb\"\r\n" + // lines 7-8
		"x,bad id\n" // line 9
	re := firstError(t, input, cols, Format{Header: true})
	if re.Line != 9 || re.Column != "id" || re.Value != "x" {
		t.Errorf("got %v, want line 9", re)
	}
	// An error inside a multi-line record names the line it starts on.
	re = firstError(t, "id,note\n1,ok\nz,\"multi\nline\"\n", cols, Format{Header: true})
	if re.Line != 3 {
		t.Errorf("got %v, want line 3", re)
	}
}

func TestSyntaxErrors(t *testing.T) {
	cols := strCols("a", "b", "c")
	tests := []struct {
		name   string
		input  string
		line   int64
		column string
		reason string
		raw    []string
	}{
		{"bare quote", "a,b,c\n1,2,3\n1,x\"y,3\n", 3, "b", `bare '"' in an unquoted field`, nil},
		{"text after closing quote", "a,b,c\n\"1\"x,2,3\n", 2, "a", "extraneous text after a closing", nil},
		{"unterminated at EOF", "a,b,c\n1,2,3\n4,5,\"six\nseven\n", 3, "c", "quoted field not closed", nil},
		{"too few fields", "a,b,c\n1,2,3\n1,2\n", 3, "", "has 2 fields, want 3", []string{"1", "2"}},
		{"too many fields", "a,b,c\n1,2,3,4\n", 2, "", "has 4 fields, want 3", []string{"1", "2", "3", "4"}},
		{"wrong count after quoted newline", "a,b,c\n\"x\ny\",2,3\n1,2\n", 4, "", "has 2 fields, want 3", []string{"1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := firstError(t, tt.input, cols, Format{Header: true})
			if re.Line != tt.line || re.Column != tt.column || !strings.Contains(re.Reason, tt.reason) || !reflect.DeepEqual(re.Raw, tt.raw) {
				t.Errorf("got %+v, want line %d column %q reason %q raw %q", re, tt.line, tt.column, tt.reason, tt.raw)
			}
			if !strings.HasPrefix(re.Error(), fmt.Sprintf("line %d", tt.line)) {
				t.Errorf("Error() = %s", re.Error())
			}
		})
	}
}

func TestOnBadRowSkipsAndCounts(t *testing.T) {
	cols := []Column{col("id", arrow.PrimitiveTypes.Int32), col("name", arrow.BinaryTypes.String)}
	input := "id,name\n" +
		"1,a\n" + // 2
		"x,b\n" + // 3: bad int
		"3,c\"d\n" + // 4: bare quote; decoding resumes on the next line
		"4,d\n" + // 5
		"5\n" + // 6: field count
		"\"6\"x,e\n" + // 7: text after quote
		"7,g\n" + // 8
		"8,\"unterminated\n"
	res, err := decodeAll(t, []byte(input), cols, Format{Header: true}, Options{}, true)
	if err != nil || res.err != nil {
		t.Fatal(err, res.err)
	}
	want := [][]string{{"1", "a"}, {"4", "d"}, {"7", "g"}}
	if !reflect.DeepEqual(res.rows, want) {
		t.Errorf("rows %q, want %q", res.rows, want)
	}
	var lines []int64
	for _, re := range res.bad {
		lines = append(lines, re.Line)
	}
	if !reflect.DeepEqual(lines, []int64{3, 4, 6, 7, 9}) {
		t.Errorf("bad lines %v", lines)
	}
	if res.stats.RowsRead != 8 || res.stats.RowsRejected != 5 || res.stats.BytesRead != int64(len(input)) || res.stats.Line != 10 {
		t.Errorf("stats %+v", res.stats)
	}

	// OnBadRow's error stops decoding.
	stop := errors.New("too many bad rows")
	calls := 0
	_, err = decodeAll(t, []byte(input), cols, Format{Header: true}, Options{OnBadRow: func(re *RowError) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	}}, false)
	if err != nil {
		t.Fatal(err)
	}
	res2, _ := decodeAll(t, []byte(input), cols, Format{Header: true}, Options{OnBadRow: func(re *RowError) error {
		if re.Line == 4 {
			return fmt.Errorf("line 4: %w", stop)
		}
		return nil
	}}, false)
	if !errors.Is(res2.err, stop) || len(res2.rows) != 0 {
		t.Errorf("err %v, rows %q; want the handler's error and no batch", res2.err, res2.rows)
	}
}

func TestPIIMasking(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "rrn", Type: arrow.BinaryTypes.String, PII: true},
		{Name: "birth", Type: arrow.FixedWidthTypes.Date32, PII: true},
		{Name: "name", Type: arrow.BinaryTypes.String, PII: true},
	}
	const rrn = "900101-1234567"
	t.Run("bad PII value", func(t *testing.T) {
		re := firstError(t, "id,rrn,birth,name\n1,"+rrn+",1990-13-01,홍길동\n", cols, Format{Header: true})
		msg := re.Error()
		for _, clear := range []string{rrn, "1990-13-01", "홍길동"} {
			if strings.Contains(msg, clear) || strings.Contains(re.Value, clear) || strings.Contains(fmt.Sprint(re.Raw), clear) || strings.Contains(re.AsFault().Error(), clear) {
				t.Errorf("%q in clear: %s / %q / %q", clear, msg, re.Value, re.Raw)
			}
		}
		if re.Value != "1********1" || !strings.Contains(msg, `"1********1" is not a date`) {
			t.Errorf("value %q, message %s", re.Value, msg)
		}
		if want := []string{"1", "9************7", "1********1", "***"}; !reflect.DeepEqual(re.Raw, want) {
			t.Errorf("Raw %q, want %q", re.Raw, want)
		}
	})
	t.Run("bad non-PII value keeps PII masked in Raw", func(t *testing.T) {
		re := firstError(t, "id,rrn,birth,name\nx,"+rrn+",1990-01-01,홍길동\n", cols, Format{Header: true})
		if re.Value != "x" || strings.Contains(fmt.Sprint(re.Raw), rrn) {
			t.Errorf("got %+v", re)
		}
	})
	t.Run("wrong field count masks everything", func(t *testing.T) {
		// An unquoted comma shifts the fields: the RRN lands under "birth".
		re := firstError(t, "id,rrn,birth,name\n1,홍,길동,"+rrn+",x\n", cols, Format{Header: true})
		if strings.Contains(fmt.Sprint(re.Raw), rrn) || len(re.Raw) != 5 {
			t.Errorf("Raw %q", re.Raw)
		}
	})
	t.Run("non-nullable null", func(t *testing.T) {
		re := firstError(t, "id,rrn,birth,name\n1,"+rrn+",,홍길동\n", cols, Format{Header: true})
		if re.Column != "birth" || re.Value != "" || strings.Contains(fmt.Sprint(re.Raw), rrn) {
			t.Errorf("got %+v", re)
		}
	})
}

func TestHeaderErrors(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	type problem struct{ column, reason string }
	tests := []struct {
		name   string
		header string
		want   []problem
	}{
		{"missing non-nullable", "id,email\n", []problem{{"name", "is missing from the header and is not nullable"}}},
		{"unknown", "id,name,phone\n", []problem{{"phone", "is not a column of the dataset"}}},
		{"duplicate", "id,name,id\n", []problem{{"id", "named twice (header fields 1 and 3)"}}},
		{"empty name", "id,,name\n", []problem{{"", "header field 2 has no name"}}},
		{"blank name", "id,name,  \n", []problem{{"", "header field 3 has no name"}}},
		{"case differs", "ID,name\n", []problem{{"ID", "is not a column of the dataset"}, {"id", "is missing from the header and is not nullable"}}},
		{"several", "name,extra,name\n", []problem{
			{"extra", "is not a column of the dataset"},
			{"name", "named twice (header fields 1 and 3)"},
			{"id", "is missing from the header and is not nullable"},
		}},
		{"empty file", "", []problem{{"", "the file is empty: it has no header"}}},
		{"only BOM and blank lines", "\xEF\xBB\xBF\n\r\n", []problem{{"", "the file is empty: it has no header"}}},
		{"malformed", "id,\"name\n", []problem{{"", "quoted field not closed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := tt.header + "1,a,b\n"
			if strings.Contains(tt.name, "empty file") || strings.Contains(tt.name, "blank lines") {
				input = tt.header
			}
			_, err := NewDecoder(strings.NewReader(input), cols, Format{Header: true}, Options{})
			fes := fault.FieldErrors(err)
			if len(fes) != len(tt.want) {
				t.Fatalf("error %v: %d field errors, want %d", err, len(fes), len(tt.want))
			}
			for i, fe := range fes {
				if fe.Field != "header" || fe.Column != tt.want[i].column || !strings.Contains(fe.Reason, tt.want[i].reason) {
					t.Errorf("problem %d: %+v, want %+v", i, fe, tt.want[i])
				}
			}
		})
	}
}

func TestHeaderMapping(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}
	// Another order, "email" and "score" missing: filled with nulls.
	got := mustDecode(t, "name,id\nkim,1\nlee,2\n", cols, Format{Header: true})
	want := [][]string{{"1", "kim", null, null}, {"2", "lee", null, null}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	d, err := NewDecoder(strings.NewReader("\uFEFF name , id\nkim,1\n"), cols, Format{Header: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h := d.Header(); !reflect.DeepEqual(h, []string{"name", "id"}) {
		t.Errorf("Header() = %q, want the file's order without BOM or spaces", h)
	}
}

func TestPositional(t *testing.T) {
	cols := []Column{col("id", arrow.PrimitiveTypes.Int32), col("name", arrow.BinaryTypes.String)}
	got := mustDecode(t, "1,a\n2,b\n", cols, Format{})
	if want := [][]string{{"1", "a"}, {"2", "b"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	re := firstError(t, "1,a\n2,b,c\n", cols, Format{})
	if re.Line != 2 || !strings.Contains(re.Reason, "has 3 fields, want 2") {
		t.Errorf("got %v", re)
	}
	// Without a header the first line is data: "id" is not an int.
	re = firstError(t, "id,name\n1,a\n", cols, Format{})
	if re.Line != 1 || re.Column != "id" {
		t.Errorf("got %v", re)
	}
	res, err := decodeAll(t, nil, cols, Format{}, Options{}, false)
	if err != nil || res.err != nil || len(res.rows) != 0 {
		t.Errorf("empty positional input: %v %v %q", err, res.err, res.rows)
	}
}

func TestDelimiters(t *testing.T) {
	cols := strCols("a", "b", "c")
	tests := []struct {
		delim rune
		input string
	}{
		{'\t', "a\tb\tc\nx,1\t\"y\tz\"\t\n"},
		{'|', "a|b|c\nx,1|\"y|z\"|\n"},
		{';', "a;b;c\nx,1;\"y;z\";\n"},
	}
	for _, tt := range tests {
		got := mustDecode(t, tt.input, cols, Format{Header: true, Delimiter: tt.delim})
		want := [][]string{{"x,1", "y" + string(tt.delim) + "z", ""}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("delimiter %q: got %q, want %q", tt.delim, got, want)
		}
	}
	got := mustDecode(t, "a,b,c\n'it''s',\"q\",x\n", cols, Format{Header: true, Quote: '\''})
	if want := [][]string{{"it's", `"q"`, "x"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("quote ': got %q, want %q", got, want)
	}
}

func TestEncodings(t *testing.T) {
	// "똠" and "햏" exist only in CP949's extension of EUC-KR.
	text := "id,name,addr\n1,홍길동,\"서울, 강남구\"\n2,똠방각하,햏\n"
	want := [][]string{{"1", "홍길동", "서울, 강남구"}, {"2", "똠방각하", "햏"}}
	encoded, err := korean.EUCKR.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(encoded, []byte("홍")) || !bytes.Contains(encoded, []byte{0x8C, 0x63}) { // 똠 in CP949
		t.Fatalf("test data is not CP949: % x", encoded)
	}
	cols := []Column{col("id", arrow.PrimitiveTypes.Int32), col("name", arrow.BinaryTypes.String), col("addr", arrow.BinaryTypes.String)}
	for _, name := range []string{"CP949", "EUC_KR"} {
		enc, err := EncodingFromName(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustDecode(t, string(encoded), cols, Format{Header: true, Encoding: enc}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	// CP949 bytes read as UTF-8 are named as such.
	re := firstError(t, string(encoded), cols, Format{Header: true})
	if re.Line != 2 || re.Column != "name" || !strings.Contains(re.Reason, "not valid UTF-8") {
		t.Errorf("got %v", re)
	}
	// Bytes that are not CP949 either.
	re = firstError(t, "id,name,addr\n1,\xff\xfe,x\n", cols, Format{Header: true, Encoding: CP949})
	if re.Column != "name" || !strings.Contains(re.Reason, "not CP949") {
		t.Errorf("got %v", re)
	}
	// Progress counts source bytes, not decoded ones.
	res, _ := decodeAll(t, encoded, cols, Format{Header: true, Encoding: CP949}, Options{}, false)
	if res.stats.BytesRead != int64(len(encoded)) {
		t.Errorf("BytesRead %d, want %d", res.stats.BytesRead, len(encoded))
	}
}

func TestEncodingFromName(t *testing.T) {
	tests := []struct {
		name string
		want Encoding
		ok   bool
	}{
		{"", UTF8, true}, {"UTF8", UTF8, true}, {"utf-8", UTF8, true},
		{"CP949", CP949, true}, {"ms949", CP949, true},
		{"EUC_KR", EUCKR, true}, {"euc-kr", EUCKR, true},
		{"LATIN1", UTF8, false}, {"SHIFT_JIS", UTF8, false},
	}
	for _, tt := range tests {
		got, err := EncodingFromName(tt.name)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("EncodingFromName(%q) = %v, %v", tt.name, got, err)
		}
		if tt.ok && tt.name != "" {
			if back, err := EncodingFromName(got.String()); err != nil || back != got {
				t.Errorf("String() of %v does not round-trip", got)
			}
		}
	}
}

func TestNewDecoderRejectsBadSetup(t *testing.T) {
	good := []Column{col("a", arrow.BinaryTypes.String)}
	tests := []struct {
		name string
		cols []Column
		f    Format
	}{
		{"no columns", nil, Format{}},
		{"unnamed column", []Column{col("", arrow.BinaryTypes.String)}, Format{}},
		{"duplicate column", []Column{col("a", arrow.BinaryTypes.String), col("a", arrow.PrimitiveTypes.Int32)}, Format{}},
		{"unsupported type", []Column{col("a", arrow.PrimitiveTypes.Int16)}, Format{}},
		{"decimal256", []Column{col("a", &arrow.Decimal256Type{Precision: 40, Scale: 2})}, Format{}},
		{"decimal precision", []Column{col("a", &arrow.Decimal128Type{Precision: 39, Scale: 2})}, Format{}},
		{"decimal scale", []Column{col("a", &arrow.Decimal128Type{Precision: 5, Scale: 6})}, Format{}},
		{"timestamp unit", []Column{col("a", &arrow.TimestampType{Unit: arrow.Nanosecond})}, Format{}},
		{"timestamp zone", []Column{col("a", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "Asia/Seoul"})}, Format{}},
		{"delimiter newline", good, Format{Delimiter: '\n'}},
		{"delimiter non-ASCII", good, Format{Delimiter: '、'}},
		{"delimiter is quote", good, Format{Delimiter: '"'}},
		{"unknown encoding", good, Format{Encoding: 9}},
	}
	for _, tt := range tests {
		if _, err := NewDecoder(strings.NewReader("x\n"), tt.cols, tt.f, Options{}); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestBatchRows(t *testing.T) {
	cols := []Column{col("n", arrow.PrimitiveTypes.Int64)}
	input := func(n int) []byte {
		var b bytes.Buffer
		for i := range n {
			fmt.Fprintf(&b, "%d\n", i)
		}
		return b.Bytes()
	}
	tests := []struct {
		rows, batch int
		want        []int
	}{
		{10, 3, []int{3, 3, 3, 1}},
		{9, 3, []int{3, 3, 3}},
		{1, 3, []int{1}},
		{0, 3, nil},
		{20000, 0, []int{8192, 8192, 3616}},
	}
	for _, tt := range tests {
		res, err := decodeAll(t, input(tt.rows), cols, Format{}, Options{BatchRows: tt.batch}, false)
		if err != nil || res.err != nil {
			t.Fatal(err, res.err)
		}
		if !reflect.DeepEqual(res.batches, tt.want) {
			t.Errorf("%d rows by %d: batches %v, want %v", tt.rows, tt.batch, res.batches, tt.want)
		}
		for i, r := range res.rows {
			if r[0] != fmt.Sprint(i) {
				t.Fatalf("row %d is %q", i, r)
			}
		}
	}
	// Rejected rows do not leave a batch short.
	res, _ := decodeAll(t, []byte("1\nx\n2\n3\ny\n4\n"), cols, Format{}, Options{BatchRows: 2}, true)
	if !reflect.DeepEqual(res.batches, []int{2, 2}) {
		t.Errorf("batches %v", res.batches)
	}
}

func TestContextCancellation(t *testing.T) {
	cols := customerColumns()
	data := customerCSV(5000)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(bytes.NewReader(data), cols, Format{Header: true}, Options{BatchRows: 1000, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec, err := d.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	cancel()
	if _, err := d.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
	if _, err := d.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("the decoder went on after cancellation: %v", err)
	}

	// Cancelled in the middle of a batch: checked within it, not only
	// between batches.
	ctx, cancel = context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(data), n: 100 << 10, cancel: cancel}
	d, err = NewDecoder(r, cols, Format{Header: true}, Options{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next: %v, want cancellation", err)
	}
	if d.Stats().RowsRead >= 5000 {
		t.Errorf("read all %d rows despite cancellation", d.Stats().RowsRead)
	}

	// Checked too while every row is rejected and no batch fills.
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	bad := bytes.Repeat([]byte("x\n"), 10000)
	d, err = NewDecoder(bytes.NewReader(bad), []Column{col("n", arrow.PrimitiveTypes.Int32)}, Format{}, Options{Allocator: mem, OnBadRow: func(*RowError) error {
		if calls++; calls == 10 {
			cancel()
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(ctx); !errors.Is(err, context.Canceled) || d.Stats().RowsRejected > 1024 {
		t.Errorf("Next: %v after %d rejected rows, want cancellation within 1024", err, d.Stats().RowsRejected)
	}
}

// cancelAfter cancels a context once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestSmallReadsAndBufferGrowth(t *testing.T) {
	data := customerCSV(300)
	// A record longer than the first buffer.
	long := strings.Repeat("긴 메모, ", 3000)
	data = append(data, fmt.Sprintf("999,김,900101-1234567,1990-01-01,M,,,,P1,X,1.00,,2024-01-01,,true,1,\"%s\"\n", long)...)
	want, err := decodeAll(t, data, customerColumns(), Format{Header: true}, Options{}, false)
	if err != nil || want.err != nil {
		t.Fatal(err, want.err)
	}
	if len(want.rows) != 301 || want.rows[300][16] != long {
		t.Fatalf("%d rows", len(want.rows))
	}
	readers := map[string]io.Reader{
		"one byte":      iotest.OneByteReader(bytes.NewReader(data)),
		"half":          iotest.HalfReader(bytes.NewReader(data)),
		"data with EOF": iotest.DataErrReader(bytes.NewReader(data)),
	}
	for name, r := range readers {
		got, err := decodeReader(t, r, customerColumns(), Format{Header: true}, Options{bufferBytes: 7}, false)
		if err != nil || got.err != nil {
			t.Fatal(name, err, got.err)
		}
		if !reflect.DeepEqual(got.rows, want.rows) {
			t.Errorf("%s: rows differ", name)
		}
	}
}

func TestRecordTooLong(t *testing.T) {
	cols := strCols("a", "b")
	input := "a,b\n1,\"" + strings.Repeat("x", 5000) + "\n2,y\n"
	res, err := decodeAll(t, []byte(input), cols, Format{Header: true}, Options{MaxRecordBytes: 1024}, true)
	if err != nil {
		t.Fatal(err)
	}
	var re *RowError
	if !errors.As(res.err, &re) || re.Line != 2 || !strings.Contains(re.Reason, "longer than 1024 bytes") {
		t.Errorf("got %v", res.err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("connection reset")
	// More than one buffer, so that the header is read before the error.
	r := io.MultiReader(bytes.NewReader(customerCSV(1000)), iotest.ErrReader(boom))
	res, err := decodeReader(t, r, customerColumns(), Format{Header: true}, Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.err, boom) || len(res.rows) != 0 {
		t.Errorf("got %v, %q", res.err, res.rows)
	}
}

func TestStatsDuringDecoding(t *testing.T) {
	data := customerCSV(2500)
	d, err := NewDecoder(bytes.NewReader(data), customerColumns(), Format{Header: true}, Options{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Line != 2 || s.RowsRead != 0 || s.BytesRead == 0 {
		t.Errorf("after the header: %+v", s)
	}
	rec, err := d.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if s := d.Stats(); s.Line != 1002 || s.RowsRead != 1000 || s.RowsRejected != 0 {
		t.Errorf("after one batch: %+v", s)
	}
}
