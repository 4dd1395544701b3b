// Package benchdata generates realistic data for benchmarks and load tests:
// an insurance-customer dataset of 17 columns (ids, Korean names, resident
// registration numbers, dates, decimals, free text with quoted commas).
package benchdata

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

// Customers returns the dataset the generated rows load into.
func Customers(id string) *dataset.Dataset {
	money := func(name string, nullable bool) dataset.Column {
		return dataset.Column{Name: name, Type: dataset.TypeDecimal, Precision: 18, Scale: 2, Nullable: nullable}
	}
	return &dataset.Dataset{
		ID: id,
		Columns: []dataset.Column{
			{Name: "customer_id", Type: dataset.TypeInt64},
			{Name: "name", Type: dataset.TypeString, PII: true, Grade: 1},
			{Name: "rrn", Type: dataset.TypeString, PII: true, Grade: 1},
			{Name: "birth_date", Type: dataset.TypeDate, Nullable: true},
			{Name: "gender", Type: dataset.TypeString, Nullable: true},
			{Name: "phone", Type: dataset.TypeString, Nullable: true, PII: true},
			{Name: "email", Type: dataset.TypeString, Nullable: true, PII: true},
			{Name: "address", Type: dataset.TypeString, Nullable: true, PII: true},
			{Name: "policy_no", Type: dataset.TypeString},
			{Name: "product", Type: dataset.TypeString},
			money("premium", false),
			money("coverage", true),
			{Name: "start_date", Type: dataset.TypeDate},
			{Name: "signed_at", Type: dataset.TypeTimestamp, Nullable: true},
			{Name: "active", Type: dataset.TypeBoolean},
			{Name: "channel_code", Type: dataset.TypeInt32, Nullable: true},
			{Name: "note", Type: dataset.TypeString, Nullable: true},
		},
		PrimaryKey: []string{"customer_id"},
		SubjectKey: "rrn",
		Grade:      2,
	}
}

var (
	familyNames = []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "남궁"}
	givenNames  = []string{"민준", "서연", "도윤", "지우", "하준", "서윤", "예준", "하은", "똠방", "햏"}
	cities      = []string{"역삼로", "센텀로", "동대구로", "송도로", "Teheran-ro"}
	products    = []string{"LIFE01", "MED02", "AUTO03", "암보험", "연금"}
	notes       = []string{"", "VIP, 상담", `"재가입" 문의, 회신`, "주소 변경, 반송", "no remarks"}
)

// Header is the CSV header line of the rows AppendRow writes.
func Header() string {
	d := Customers("bench.customers")
	names := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ",") + "\n"
}

// NewRand returns the generator's random source, seeded for repeatable data.
func NewRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// AppendRow appends CSV record i (about 180 bytes) to b.
func AppendRow(b []byte, rng *rand.Rand, i int) []byte {
	year := 1950 + rng.IntN(55)
	month := 1 + rng.IntN(12)
	day := 1 + rng.IntN(28)
	sex := 1 + rng.IntN(2)
	gender := "M"
	if sex == 2 {
		gender = "F"
	}
	note := notes[rng.IntN(len(notes))]
	if strings.ContainsAny(note, `,"`) {
		note = `"` + strings.ReplaceAll(note, `"`, `""`) + `"`
	}
	return fmt.Appendf(b, "%d,%s%s,%02d%02d%02d-%d%06d,%04d-%02d-%02d,%s,010-%04d-%04d,c%d@mail.kr,\"%s %d, %d층\",P%07d,%s,%d.%02d,%d.00,2024-%02d-%02d,2024-%02d-%02d %02d:%02d:%02d.%03d,%t,%d,%s\n",
		100000+i,
		familyNames[rng.IntN(len(familyNames))], givenNames[rng.IntN(len(givenNames))],
		year%100, month, day, sex, rng.IntN(1000000),
		year, month, day,
		gender,
		rng.IntN(10000), rng.IntN(10000),
		i,
		cities[rng.IntN(len(cities))], 1+rng.IntN(999), 1+rng.IntN(30),
		i,
		products[rng.IntN(len(products))],
		10000+rng.IntN(990000), rng.IntN(100),
		10000000*(1+rng.IntN(50)),
		month, day,
		month, day, rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000),
		rng.IntN(4) != 0,
		rng.IntN(100),
		note,
	)
}

// WriteCSV streams a header and n records to w and returns the bytes written.
func WriteCSV(w io.Writer, n int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	written, err := bw.WriteString(Header())
	if err != nil {
		return int64(written), err
	}
	total := int64(written)
	rng := NewRand()
	var row []byte
	for i := range n {
		row = AppendRow(row[:0], rng, i)
		k, err := bw.Write(row)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, bw.Flush()
}
