package benchdata

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

func TestGeneratedCSVMatchesTheDataset(t *testing.T) {
	d := Customers("bench.customers")
	if err := dataset.Validate(d, 3); err != nil {
		t.Fatalf("dataset: %v", err)
	}
	var buf bytes.Buffer
	n, err := WriteCSV(&buf, 500)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteCSV: %d %v", n, err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("generated CSV does not parse: %v", err)
	}
	if len(records) != 501 {
		t.Fatalf("%d records, want header + 500", len(records))
	}
	for i, r := range records {
		if len(r) != len(d.Columns) {
			t.Fatalf("record %d has %d fields, want %d", i, len(r), len(d.Columns))
		}
	}
	if avg := n / 500; avg < 150 || avg > 260 {
		t.Fatalf("rows average %d bytes; the benchmark assumes about 180", avg)
	}
}
