package eval

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// benchSuite is the 10-rule suite: column count and order, not
// null on 3 columns, uniqueness of the id, allowed values, a range, a
// regex on the 13-digit registration number, a maximum length.
const benchSuite = `Rules = [
    ColumnCount = 17,
    ColumnOrder = ["customer_id", "name", "rrn", "birth_date", "gender", "phone", "email", "address", "policy_no", "product", "premium", "coverage", "start_date", "signed_at", "active", "channel_code", "note"],
    IsComplete "customer_id",
    IsComplete "rrn",
    IsComplete "policy_no",
    IsUnique "customer_id",
    ColumnValues "gender" in ["M", "F"],
    ColumnValues "premium" between 10000 and 1000000,
    ColumnValues "rrn" matches "^\d{6}-\d{7}$",
    ColumnLength "name" <= 10
]`

func customerColumns() []csvstream.Column {
	d := benchdata.Customers("bench.customers")
	sc := tables.ArrowSchema(d)
	cols := make([]csvstream.Column, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = csvstream.Column{Name: c.Name, Type: sc.Field(i).Type, Nullable: c.Nullable, PII: c.PII}
	}
	return cols
}

func customerCSV(t testing.TB, rows int) []byte {
	var buf bytes.Buffer
	if _, err := benchdata.WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBenchSuitePasses checks that the benchmark's suite passes on the
// generated data, so that the benchmark measures a realistic run.
func TestBenchSuitePasses(t *testing.T) {
	res := validate(t, benchSuite, string(customerCSV(t, 20_000)), customerColumns(), 0, Options{})
	for _, r := range res {
		if r.Outcome != Pass {
			t.Errorf("%s: %v observed %s (%s) samples %v", r.Rule, r.Outcome, r.Observed, r.Message, r.Samples)
		}
	}
}

// BenchmarkValidate10Rules decodes benchdata's 17-column customer CSV
// (100,000 rows held in memory) with csvstream and validates it with the
// 10-rule suite in the same pass; MB/s counts CSV bytes.
func BenchmarkValidate10Rules(b *testing.B) {
	benchmarkValidate(b, benchSuite)
}

// BenchmarkDecodeOnly is the same decoding without rules, the baseline the
// validation's cost is read against.
func BenchmarkDecodeOnly(b *testing.B) {
	benchmarkValidate(b, "")
}

func benchmarkValidate(b *testing.B, suite string) {
	const rows = 100_000
	data := customerCSV(b, rows)
	cols := customerColumns()
	header := strings.Split(strings.TrimSpace(benchdata.Header()), ",")
	var rs *dqdl.Ruleset
	if suite != "" {
		var err error
		if rs, err = dqdl.Parse(suite); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dec, err := csvstream.NewDecoder(bytes.NewReader(data), cols, csvstream.Format{Header: true}, csvstream.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var ev *Evaluator
		if rs != nil {
			ev, err = New(ctx, rs, dec.Schema(), Options{Header: header, TempDir: dir})
			if err != nil {
				b.Fatal(err)
			}
		}
		n := 0
		for {
			rec, err := dec.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += int(rec.NumRows())
			if ev != nil {
				if err := ev.Add(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
			rec.Release()
		}
		if n != rows {
			b.Fatalf("decoded %d rows, want %d", n, rows)
		}
		if ev != nil {
			if res := ev.Finish(ctx); Overall(res) != Pass {
				b.Fatalf("the suite did not pass: %+v", res)
			}
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
