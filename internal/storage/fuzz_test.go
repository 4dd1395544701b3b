package storage

import (
	"bytes"
	"context"
	"encoding/csv"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzRecordCounter checks the streaming record counter against
// encoding/csv on every input encoding/csv reads without error, fed in
// pieces of every size.
func FuzzRecordCounter(f *testing.F) {
	for _, s := range []string{"", "a\n", "a,b\nc,d", "\"x\ny\"\n1\n", "a\n\n\nb\r\n", "\"a\"\"b\",c\n", "\r\n\r\n", "\"\n\"", "a,\"b\r\nc\"\r\n"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, piece int) {
		r := csv.NewReader(strings.NewReader(s))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			return
		}
		piece = max(1, piece%64)
		c := recordCounter{quote: '"'}
		for b := []byte(s); len(b) > 0; {
			n := min(piece, len(b))
			c.write(b[:n])
			b = b[n:]
		}
		if got := c.end(); got != int64(len(recs)) {
			t.Errorf("%q: counted %d records, encoding/csv reads %d", s, got, len(recs))
		}
	})
}

// FuzzGrep checks the buffer search against a plain line-by-line match.
func FuzzGrep(f *testing.F) {
	f.Add("a\nb\nab\n", "a")
	f.Add("x1\n\ny22\r\nz", `\d+$`)
	f.Add("one\ntwo\n", `^t`)
	f.Add("a\nb", `a\sb|b`)
	f.Add("aa\n", `\Aa`)
	f.Add("900101-1234567 a\r\n-\n김민준,800202-7654321", `\d{6}-\d{7}`)
	f.Add("k\n\u212a\nK\xff", `(?i)k|\x{FFFD}`)
	f.Add("xxxxxxxxxxxxab-cd\n", `[a-z]{2}-[a-z]`)
	f.Fuzz(func(t *testing.T, text, pattern string) {
		g, err := newGrepper(pattern)
		if err != nil {
			return
		}
		var want []int64
		for i, line := range strings.Split(text, "\n") {
			if i == strings.Count(text, "\n") && line == "" {
				break
			}
			if g.line.MatchString(strings.TrimSuffix(line, "\r")) {
				want = append(want, int64(i+1))
			}
		}
		sizes := []int{grepChunk}
		if g.dfa != nil {
			// Long lines come in pieces, which the DFA decides as one line
			// (the regexp path, one by one).
			sizes = append(sizes, 8, 13)
		}
		for _, size := range sizes {
			var got []int64
			err = g.search(context.Background(), strings.NewReader(text), make([]byte, size), func(line int64, _ []byte) error {
				got = append(got, line)
				return nil
			})
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("pattern %q on %q, buffer %d: lines %v (%v), want %v", pattern, text, size, got, err, want)
			}
		}
	})
}

// FuzzInference runs the format and type detection on anything.
func FuzzInference(f *testing.F) {
	for _, s := range []string{"a;b\n1;2\n", "x|y\n\"a|b\"|c\n", "2024-01-01", "-0.50", "007", "\xb1\xe8"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if d := detectDelimiter(b, '"'); !bytes.Contains(delimiters, []byte{d}) {
			t.Errorf("detectDelimiter = %q, not a candidate", d)
		}
		detectEncoding(b)
		c := newColStats()
		c.observe(string(b))
		typ, _ := c.result()
		if typ.typ == "DECIMAL" && (typ.digits+typ.scale > 38 || typ.digits < 1) {
			t.Errorf("%q: %s is not a valid decimal", b, typ)
		}
		if n := columnName(string(b), 1); !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(n) || len(n) > 128 {
			t.Errorf("columnName(%q) = %q", b, n)
		}
		if _, _, ok := parseNumber(string(b)); ok && strings.ContainsAny(string(b), " eE,") {
			t.Errorf("parseNumber accepted %q", b)
		}
	})
}
