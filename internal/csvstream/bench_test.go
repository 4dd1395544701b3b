package csvstream

import (
	"bytes"
	"context"
	"io"
	"testing"

	"golang.org/x/text/encoding/korean"
)

// BenchmarkDecode17Columns decodes a realistic insurance-customer file of
// 17 columns (about 200 bytes a row, Korean names and addresses, quoted
// commas) held in memory.
func BenchmarkDecode17Columns(b *testing.B) {
	benchmarkDecode(b, customerCSV(100_000), UTF8)
}

// BenchmarkDecode17ColumnsCP949 is the same file encoded in CP949, which
// the decoder transcodes before scanning; MB/s counts CP949 bytes.
func BenchmarkDecode17ColumnsCP949(b *testing.B) {
	data, err := korean.EUCKR.NewEncoder().Bytes(customerCSV(100_000))
	if err != nil {
		b.Fatal(err)
	}
	benchmarkDecode(b, data, CP949)
}

func benchmarkDecode(b *testing.B, data []byte, enc Encoding) {
	const rows = 100_000
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		d, err := NewDecoder(bytes.NewReader(data), customerColumns(), Format{Header: true, Encoding: enc}, Options{})
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

// BenchmarkScan17Columns only splits the same file into records and
// fields: the scanner's share of decoding.
func BenchmarkScan17Columns(b *testing.B) {
	data := customerCSV(100_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s := newScanner(bytes.NewReader(data), ',', '"', defaultBufferBytes, defaultMaxRecordBytes)
		fields := 0
		for {
			rec, _, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			fields += len(rec)
		}
		if fields != 17*100_001 {
			b.Fatalf("scanned %d fields, want %d", fields, 17*100_001)
		}
	}
}
