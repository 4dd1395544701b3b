package sqlstore

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

func TestPageTokenRoundTrip(t *testing.T) {
	for _, tc := range []struct{ after, ns string }{
		{"sales.clients", ""},
		{"sales.clients", "sales"},
		{"weird.id with \"quotes\" and 🚀", "weird"},
	} {
		token := encodePageToken(tc.after, tc.ns)
		if strings.ContainsAny(token, "+/=") {
			t.Errorf("token %q is not unpadded base64url", token)
		}
		got, err := decodePageToken(token, tc.ns)
		if err != nil || got != tc.after {
			t.Errorf("decodePageToken(encodePageToken(%q, %q)) = %q, %v", tc.after, tc.ns, got, err)
		}
	}
	if got, err := decodePageToken("", "any"); got != "" || err != nil {
		t.Errorf(`decodePageToken("") = %q, %v; want "", nil`, got, err)
	}
}

func TestPageTokenInvalid(t *testing.T) {
	valid := encodePageToken("a.b", "a")
	for _, tc := range []struct{ token, ns string }{
		{"%%%", ""},
		{"e30", ""},        // {}
		{"eyJ2IjoxfQ", ""}, // {"v":1}: no cursor
		{"eyJ2IjoxLCJhZnRlciI6ImEuYiIsIngiOjF9", ""}, // unknown field x
		{"eyJ2IjoxLCJhZnRlciI6ImEuYiJ9e30", ""},      // trailing data
		{valid, ""},                                  // another namespace filter
		{valid, "b"},
	} {
		if _, err := decodePageToken(tc.token, tc.ns); !errors.Is(err, store.ErrInvalidPageToken) {
			t.Errorf("decodePageToken(%q, %q) error = %v, want ErrInvalidPageToken", tc.token, tc.ns, err)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0010_ten.sql":  {Data: []byte("ten")},
		"migrations/0002_two.sql":  {Data: []byte("two")},
		"migrations/1_one.sql":     {Data: []byte("one")},
		"migrations/README.md":     {Data: []byte("not a migration")},
		"other/0003_elsewhere.sql": {Data: []byte("ignored")},
	}
	ms, err := loadMigrations(fsys)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.name+"="+m.sql)
	}
	if want := []string{"one=one", "two=two", "ten=ten"}; !slices.Equal(got, want) {
		t.Errorf("migrations = %v, want %v", got, want)
	}
}

func TestLoadMigrationsRejects(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no version":     {"migrations/init.sql": {}},
		"zero version":   {"migrations/0_init.sql": {}},
		"shared version": {"migrations/1_a.sql": {}, "migrations/01_b.sql": {}},
		"no folder":      {"0001_init.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations succeeded, want an error", name)
		}
	}
}

func TestBind(t *testing.T) {
	q := `UPDATE t SET a = ?, b = ? WHERE id = ?`
	if got := (&Store{}).bind(q); got != q {
		t.Errorf("bind without placeholder func = %q, want it unchanged", got)
	}
	s := &Store{dialect: Dialect{Placeholder: DollarPlaceholder}}
	if got, want := s.bind(q), `UPDATE t SET a = $1, b = $2 WHERE id = $3`; got != want {
		t.Errorf("bind = %q, want %q", got, want)
	}
}

func TestTimeScanner(t *testing.T) {
	want := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	paris := time.FixedZone("CET", 3600)
	for _, src := range []any{
		want,
		want.Add(789 * time.Nanosecond).In(paris),
		"2026-03-04T05:06:07.123456Z",
		[]byte("2026-03-04T06:06:07.123456789+01:00"),
	} {
		var got time.Time
		if err := (timeScanner{&got}).Scan(src); err != nil {
			t.Errorf("Scan(%v): %v", src, err)
			continue
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, want %v in UTC", src, got, want)
		}
	}
	for _, src := range []any{"yesterday", 42, nil} {
		var got time.Time
		if err := (timeScanner{&got}).Scan(src); err == nil {
			t.Errorf("Scan(%v) succeeded, want an error", src)
		}
	}
}

// TestSpecNilAndEmpty checks that slices come back as they went in: nil as
// nil and empty as empty.
func TestSpecNilAndEmpty(t *testing.T) {
	for _, in := range []*dataset.Dataset{
		{ID: "a.nil"},
		{ID: "a.empty", Columns: []dataset.Column{}, PrimaryKey: []string{}, PartitionBy: []dataset.PartitionField{}},
	} {
		spec, err := encodeSpec(in)
		if err != nil {
			t.Fatal(err)
		}
		out := &dataset.Dataset{ID: in.ID}
		if err := decodeSpec(out, []byte(spec)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Errorf("spec %s decodes to %#v, want %#v", spec, out, in)
		}
	}
}

func TestTimePageToken(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	filter := "dataset=sales.clients&state=QUEUED"
	token := encodeTimePageToken(at.In(time.FixedZone("KST", 9*3600)), "job-1", filter)
	gotAt, gotAfter, ok, err := decodeTimePageToken(token, filter)
	if err != nil || !ok || gotAfter != "job-1" || !gotAt.Equal(at) || gotAt.Location() != time.UTC {
		t.Errorf("decodeTimePageToken = %v, %q, %v, %v; want %v, job-1, true, nil", gotAt, gotAfter, ok, err, at)
	}
	if _, _, ok, err := decodeTimePageToken("", filter); ok || err != nil {
		t.Errorf(`decodeTimePageToken("") = ok %v, %v; want false, nil`, ok, err)
	}
	for _, tc := range []struct{ token, filter string }{
		{token, ""},                                // another filter
		{token, "dataset=sales.clients"},           // another filter
		{encodePageToken("job-1", filter), filter}, // a listing ordered by id
		{encodeCursor(pageCursor{After: "job-1", At: "yesterday", Filter: filter}), filter},
	} {
		if _, _, _, err := decodeTimePageToken(tc.token, tc.filter); !errors.Is(err, store.ErrInvalidPageToken) {
			t.Errorf("decodeTimePageToken(%q, %q) error = %v, want ErrInvalidPageToken", tc.token, tc.filter, err)
		}
	}
	// And the other way round: a time-ordered token is not an id-ordered one.
	if _, err := decodePageToken(token, filter); !errors.Is(err, store.ErrInvalidPageToken) {
		t.Errorf("decodePageToken of a time page token: error = %v, want ErrInvalidPageToken", err)
	}
}

func TestNullTimeScanner(t *testing.T) {
	got := time.Now()
	if err := (nullTimeScanner{&got}).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("Scan(nil) = %v, %v; want the zero time", got, err)
	}
	want := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	if err := (nullTimeScanner{&got}).Scan("2026-03-04T05:06:07.123456Z"); err != nil || !got.Equal(want) {
		t.Errorf("Scan(text) = %v, %v; want %v", got, err, want)
	}
	if err := (nullTimeScanner{&got}).Scan("yesterday"); err == nil {
		t.Error(`Scan("yesterday") succeeded, want an error`)
	}
}
