package csvstream

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// customerColumns is a realistic insurance-customer dataset of 17 columns.
func customerColumns() []Column {
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	money := &arrow.Decimal128Type{Precision: 18, Scale: 2}
	return []Column{
		{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, PII: true},
		{Name: "rrn", Type: arrow.BinaryTypes.String, PII: true},
		{Name: "birth_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "gender", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "phone", Type: arrow.BinaryTypes.String, Nullable: true, PII: true},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true, PII: true},
		{Name: "address", Type: arrow.BinaryTypes.String, Nullable: true, PII: true},
		{Name: "policy_no", Type: arrow.BinaryTypes.String},
		{Name: "product", Type: arrow.BinaryTypes.String},
		{Name: "premium", Type: money},
		{Name: "coverage", Type: money, Nullable: true},
		{Name: "start_date", Type: arrow.FixedWidthTypes.Date32},
		{Name: "signed_at", Type: ts, Nullable: true},
		{Name: "active", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "channel_code", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}
}

var (
	familyNames = []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "남궁"}
	givenNames  = []string{"민준", "서연", "도윤", "지우", "하준", "서윤", "예준", "하은", "똠방", "햏"}
	cities      = []string{"역삼로", "센텀로", "동대구로", "송도로", "Teheran-ro"}
	products    = []string{"LIFE01", "MED02", "AUTO03", "암보험", "연금"}
	notes       = []string{
		"",
		"VIP, 상담",
		`"재가입" 문의, 회신`,
		"주소 변경, 반송",
		"no remarks",
	}
)

// customerHeader is the header line of customerRow's records.
func customerHeader() string {
	names := make([]string, 0, 17)
	for _, c := range customerColumns() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",") + "\n"
}

// customerRow appends record i (about 180 bytes) to b.
func customerRow(b []byte, rng *rand.Rand, i int) []byte {
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

// customerCSV returns a header and n records.
func customerCSV(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := []byte(customerHeader())
	for i := range n {
		b = customerRow(b, rng, i)
	}
	return b
}
