package csvstream

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// BenchmarkDecode17Columns decodes a realistic insurance-customer file of
// 17 columns (about 180 bytes a row) held in memory.
func BenchmarkDecode17Columns(b *testing.B) {
	const rows = 100_000
	data := customerCSV(rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		d, err := NewDecoder(bytes.NewReader(data), customerColumns(), Format{Header: true}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			rec, err := d.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += int(rec.NumRows())
			rec.Release()
		}
		if n != rows {
			b.Fatalf("decoded %d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(len(data))/rows, "bytes/row")
}
