package csvstream

import (
	"bytes"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow"
)

var fuzzSeeds = []string{
	"a,b,c\n1,2,3\n",
	"\xEF\xBB\xBFa,b,c\r\n1,2,3\r\n",
	"\"x\ny\",\"\"\"\",z\n",
	"a,\"b,c\",d\n\n\ne,f,g",
	"1,x\"y,3\n4,5,6\n",
	"\"a\"b,c,d\n",
	"\"unterminated,1,2\n3,4,5\n",
	"1,2\n1,2,3,4\n,,\n",
	"\r\r\n\r,\r,\r\n",
	"홍길동,\"서울, 강남\",똠\n",
	"\xff\xfe,\xc3,\x80\n",
	"42,12.5,2024-02-29,2024-03-15 10:20:30.5,true,1.5e3,abc\n",
	"-2147483649,99999999999999999.99,2023-02-29,2024-13-01T00:00:00Z,maybe,NaN,\n",
	",,,,,,\n+1,-.5,0001-01-01,9999-12-31T23:59:59.999999+09:00,Y,-0,\"q\"\"q\"\n",
}

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic or
// leak a buffer; with STRING columns only, decoding must not depend on how
// the source is chunked, and the rows it accepts, written out again as CSV,
// must decode to themselves.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	strings3 := strCols("a", "b", "c")
	typed := []Column{
		col("i", arrow.PrimitiveTypes.Int32),
		col("d", &arrow.Decimal128Type{Precision: 19, Scale: 2}),
		col("day", arrow.FixedWidthTypes.Date32),
		col("ts", tsUTC),
		col("b", arrow.FixedWidthTypes.Boolean),
		col("f", arrow.PrimitiveTypes.Float64),
		col("s", arrow.BinaryTypes.String),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := decodeAll(t, data, strings3, Format{}, Options{BatchRows: 3}, true)
		if err != nil {
			t.Fatalf("NewDecoder: %v", err)
		}
		if want.err != nil {
			t.Fatalf("with OnBadRow collecting, Next failed: %v", want.err)
		}
		if want.stats.RowsRead != int64(len(want.rows)+len(want.bad)) || want.stats.RowsRejected != int64(len(want.bad)) {
			t.Errorf("stats %+v for %d rows and %d bad", want.stats, len(want.rows), len(want.bad))
		}

		chunked, err := decodeReader(t, iotest.OneByteReader(bytes.NewReader(data)), strings3, Format{}, Options{BatchRows: 2, bufferBytes: 5}, true)
		if err != nil || chunked.err != nil {
			t.Fatal(err, chunked.err)
		}
		if !reflect.DeepEqual(chunked.rows, want.rows) || !reflect.DeepEqual(chunked.bad, want.bad) || chunked.stats != want.stats {
			t.Fatalf("chunked reads differ:\n%+v\n%+v", chunked, want)
		}

		again, err := decodeAll(t, encodeCSV(want.rows), strings3, Format{}, Options{}, true)
		if err != nil || again.err != nil || len(again.bad) != 0 {
			t.Fatalf("re-encoded rows: %v %v %+v", err, again.err, again.bad)
		}
		if !reflect.DeepEqual(again.rows, want.rows) && len(want.rows) > 0 {
			t.Fatalf("round trip:\n%q\n%q", again.rows, want.rows)
		}

		// Other schemas and formats: only no panic and no leak.
		_, _ = decodeAll(t, data, typed, Format{NullValues: []string{"NULL"}}, Options{BatchRows: 2}, true)
		_, _ = decodeAll(t, data, typed, Format{}, Options{}, false)
		_, _ = decodeAll(t, data, strings3, Format{Header: true, Encoding: CP949}, Options{}, true)
		_, _ = decodeAll(t, data, strings3, Format{Delimiter: '\t', Quote: '\''}, Options{MaxRecordBytes: 16}, true)
	})
}

// encodeCSV writes rows as RFC 4180 CSV, quoting only where needed (and
// where a leading byte order mark would be taken for the file's).
func encodeCSV(rows [][]string) []byte {
	var b bytes.Buffer
	for _, row := range rows {
		for i, field := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			if strings.ContainsAny(field, ",\"\r\n") || strings.HasPrefix(field, "\uFEFF") {
				b.WriteString(`"` + strings.ReplaceAll(field, `"`, `""`) + `"`)
			} else {
				b.WriteString(field)
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var decimalSyntax = regexp.MustCompile(`^([+-]?)([0-9]*)(?:\.([0-9]*))?$`)

// FuzzParseDecimal checks parseDecimal against math/big: a value is
// accepted exactly when its digits fit the precision and scale, and then
// its unscaled integer is exact.
func FuzzParseDecimal(f *testing.F) {
	seeds := []struct {
		s           string
		prec, scale uint8
	}{
		{"12.5", 18, 2}, {"-0.01", 18, 2}, {"0", 18, 2}, {"99999999999999999.99", 19, 2},
		{".5", 18, 2}, {"1.", 18, 2}, {"1.234", 18, 2}, {"12,5", 18, 2}, {"", 5, 0},
		{"99999999999999999999999999999999999999", 38, 0}, {"-.", 3, 1}, {"+0000.10", 3, 2},
		{"1e5", 10, 0}, {" 1", 10, 0}, {"٣", 10, 0},
	}
	for _, s := range seeds {
		f.Add(s.s, s.prec, s.scale)
	}
	f.Fuzz(func(t *testing.T, s string, p, sc uint8) {
		prec := int32(p%38) + 1
		scale := int32(sc) % (prec + 1)
		got, reason := parseDecimal([]byte(s), prec, scale)

		m := decimalSyntax.FindStringSubmatch(s)
		if m == nil || m[2]+m[3] == "" {
			if reason == "" {
				t.Fatalf("parseDecimal(%q, %d, %d) accepted %s", s, prec, scale, got.BigInt())
			}
			return
		}
		intDigits := strings.TrimLeft(m[2], "0")
		if len(intDigits) > int(prec-scale) || len(m[3]) > int(scale) {
			if reason == "" {
				t.Fatalf("parseDecimal(%q, %d, %d) accepted %s beyond the precision or scale", s, prec, scale, got.BigInt())
			}
			return
		}
		if reason != "" {
			t.Fatalf("parseDecimal(%q, %d, %d) refused: %s", s, prec, scale, reason)
		}
		want, _ := new(big.Int).SetString("0"+m[2]+m[3]+strings.Repeat("0", int(scale)-len(m[3])), 10)
		if m[1] == "-" {
			want.Neg(want)
		}
		if got.BigInt().Cmp(want) != 0 {
			t.Fatalf("parseDecimal(%q, %d, %d) = %s, want %s", s, prec, scale, got.BigInt(), want)
		}
		if !got.FitsInPrecision(prec) {
			t.Fatalf("parseDecimal(%q, %d, %d) = %s does not fit the precision", s, prec, scale, got.BigInt())
		}
	})
}
