package storage

import (
	"bytes"
	"context"
	"testing"

	"github.com/lakeplane/lakeplane/internal/benchdata"
)

// benchCSV returns rows of benchdata's customer CSV, header first.
func benchCSV(b *testing.B, rows int) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := benchdata.WriteCSV(&buf, rows); err != nil {
		b.Fatalf("generate: %v", err)
	}
	return buf.Bytes()
}

// BenchmarkCountLines measures the line count of the customer CSV.
func BenchmarkCountLines(b *testing.B) {
	data := benchCSV(b, 100_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := countLines(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGrep measures the search for the registration number, which
// every row holds, through the lineDFA, and through the regexp path (a "^"
// keeps the DFA out), with each matching line's text made as Grep does.
func BenchmarkGrep(b *testing.B) {
	data := benchCSV(b, 100_000)
	for _, c := range []struct{ name, pattern string }{
		{"dfa", `\d{6}-\d{7}`},
		{"regexp", `^.*\d{6}-\d{7}`},
		{"dfa-none", `\d{6}-\d{7}-`},
	} {
		b.Run(c.name, func(b *testing.B) {
			g, err := newGrepper(c.pattern)
			if err != nil {
				b.Fatal(err)
			}
			if (g.dfa != nil) != (c.name != "regexp") {
				b.Fatalf("%s: the DFA is %v", c.pattern, g.dfa)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				err := g.search(context.Background(), bytes.NewReader(data), make([]byte, grepChunk), func(_ int64, text []byte) error {
					_ = matchText(text)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGrepCount measures counting the lines that hold a registration
// number, as a count-only Grep's scanner does, one goroutine.
func BenchmarkGrepCount(b *testing.B) {
	data := benchCSV(b, 100_000)
	g, err := newGrepper(`\d{6}-\d{7}`)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, grepChunk)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		n, err := g.count(context.Background(), bytes.NewReader(data), buf)
		if err != nil || n != 100_000 {
			b.Fatalf("counted %d lines (%v), want 100000", n, err)
		}
	}
}
