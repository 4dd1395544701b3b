package csvstream

import (
	"math/rand/v2"

	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// customerColumns is the realistic 17-column insurance-customer dataset of
// package benchdata, as decoder columns.
func customerColumns() []Column {
	d := benchdata.Customers("bench.customers")
	schema := tables.ArrowSchema(d)
	cols := make([]Column, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = Column{Name: c.Name, Type: schema.Field(i).Type, Nullable: c.Nullable, PII: c.PII}
	}
	return cols
}

// customerHeader is the header line of customerRow's records.
func customerHeader() string { return benchdata.Header() }

// customerRow appends record i (about 180 bytes) to b.
func customerRow(b []byte, rng *rand.Rand, i int) []byte { return benchdata.AppendRow(b, rng, i) }

// customerCSV returns a header and n records.
func customerCSV(n int) []byte {
	rng := benchdata.NewRand()
	b := []byte(customerHeader())
	for i := range n {
		b = customerRow(b, rng, i)
	}
	return b
}
