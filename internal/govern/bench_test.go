package govern

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// benchIndex builds the index of lakebench's authz catalog: 10,000 tables
// of 30 columns in 20 databases, 10% of columns overriding their table's
// grade, 2% of tables untagged, and 300 groups with one grant each.
func benchIndex(b *testing.B) *Index {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var ds []*dataset.Dataset
	for i := range 10000 {
		d := &dataset.Dataset{ID: fmt.Sprintf("db%02d.t%05d", i%20, i)}
		if r.IntN(50) != 0 {
			d.Grade = 1 + r.IntN(3)
		}
		for c := range 30 {
			col := dataset.Column{Name: "c" + strconv.Itoa(c), Type: dataset.TypeString}
			if d.Grade != 0 && r.IntN(10) == 0 {
				col.Grade = 1 + r.IntN(3)
			}
			d.Columns = append(d.Columns, col)
		}
		ds = append(ds, d)
	}
	st := &store.GrantsState{}
	for g := range 300 {
		st.Grants = append(st.Grants, &store.GroupGrant{ID: fmt.Sprintf("grant%03d", g), Group: fmt.Sprintf("group%03d", g), Grade: 1 + g%3, Permissions: []string{"SELECT"}})
	}
	ix := NewIndex(GradeScale{Key: "grade", Levels: 3}, "domain")
	ix.Load(ds, st)
	return ix
}

func BenchmarkAllowedColumn(b *testing.B) {
	ix := benchIndex(b)
	groups := []string{"group001"}
	cols := make([]string, 32)
	for i := range cols {
		cols[i] = "c" + strconv.Itoa(i%30)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ix.Allowed(groups, "db07", "t00007", cols[i&31], Select)
	}
}

func BenchmarkAllowedColumnSpread(b *testing.B) {
	ix := benchIndex(b)
	type q struct{ db, t, c string }
	qs := make([]q, 4096)
	for i := range qs {
		n := (i * 7919) % 10000
		qs[i] = q{fmt.Sprintf("db%02d", n%20), fmt.Sprintf("t%05d", n), "c" + strconv.Itoa(i%30)}
	}
	groups := []string{"group002"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x := &qs[i&4095]
		i++
		ix.Allowed(groups, x.db, x.t, x.c, Select)
	}
}

func BenchmarkReadableColumns(b *testing.B) {
	ix := benchIndex(b)
	dst := make([]string, 0, 30)
	b.ReportAllocs()
	for b.Loop() {
		dst = ix.ReadableColumns(dst[:0], "group001", "db07", "t00007")
	}
}

func BenchmarkCheckAccessTable(b *testing.B) {
	ix := benchIndex(b)
	svc := &Service{ix: ix, scale: ix.scale, domainKey: "domain"}
	c := Check{Groups: []string{"group001"}, Database: "db07", Table: "t00007", Permission: Select}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.CheckAccess(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckAccessColumn is the gRPC CheckAccess of lakebench without
// gRPC: one column of a table per check, with its reason, allowed or
// denied in turn.
func BenchmarkCheckAccessColumn(b *testing.B) {
	ix := benchIndex(b)
	svc := &Service{ix: ix, scale: ix.scale, domainKey: "domain"}
	var cs []Check
	for c := range 30 {
		cs = append(cs, Check{Groups: []string{"group001"}, Database: "db07", Table: "t00007", Columns: []string{"c" + strconv.Itoa(c)}, Permission: Select})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := svc.CheckAccess(cs[i%len(cs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListAccessibleTablesPage(b *testing.B) {
	ix := benchIndex(b)
	svc := &Service{ix: ix, scale: ix.scale, domainKey: "domain"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := svc.ListAccessibleTables("group002", 50, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTagChange(b *testing.B) {
	ix := benchIndex(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ix.SetTags(Resource{Database: "db03", Table: "t00003", Column: "c1"}, map[string]string{"domain": "d" + strconv.Itoa(i%2)})
	}
}

// BenchmarkAllowedColumnRandom decides as lakebench authz does: random
// tables, columns and groups over the whole catalog, the names of each
// query fresh copies laid out in query order.
func BenchmarkAllowedColumnRandom(b *testing.B) {
	ix := benchIndex(b)
	type q struct {
		db, t, c string
		groups   []string
	}
	r := rand.New(rand.NewPCG(3, 4))
	qs := make([]q, 1<<16)
	var arena strings.Builder
	arena.Grow(len(qs) * 40)
	fresh := func(s string) string {
		start := arena.Len()
		arena.WriteString(s)
		return arena.String()[start:]
	}
	for i := range qs {
		n, g := r.IntN(10000), r.IntN(300)
		qs[i] = q{fresh(fmt.Sprintf("db%02d", n%20)), fresh(fmt.Sprintf("t%05d", n)), fresh("c" + strconv.Itoa(r.IntN(30))), []string{fresh(fmt.Sprintf("group%03d", g))}}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x := &qs[i&(len(qs)-1)]
		i++
		ix.Allowed(x.groups, x.db, x.t, x.c, Select)
	}
}
