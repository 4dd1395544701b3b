package govern

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// randomName returns a name of n bytes over a small alphabet, so that
// names collide in most of their bytes.
func randomName(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "ab_1"[r.IntN(4)]
	}
	return string(b)
}

func TestNameKeyIdentifiesShortNames(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	byKey := map[nameKey]string{}
	for range 200_000 {
		s := randomName(r, r.IntN(shortKeyLength+1))
		if prev, ok := byKey[keyOf(s)]; ok && prev != s {
			t.Fatalf("%q and %q have one key", prev, s)
		}
		byKey[keyOf(s)] = s
	}
}

func TestKeyTable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	want := map[string]int{}
	for len(want) < 500 {
		// Long names share their first 32 bytes, so only the tail tells
		// them apart.
		want[strings.Repeat("x", 32*r.IntN(2))+randomName(r, 1+r.IntN(24))] = len(want)
	}
	x := keyTableOf(want)
	grown := newKeyTable[int](0)
	for name, v := range want {
		grown = grown.with(name, v)
	}
	for _, tab := range []keyTable[int]{x, grown} {
		if n := tab.len(); n != len(want) {
			t.Fatalf("len %d, want %d", n, len(want))
		}
		for name, v := range want {
			if got, ok := tab.get(name); !ok || got != v {
				t.Fatalf("get(%q) = %d, %v; want %d", name, got, ok, v)
			}
			for _, other := range []string{name + "a", name[:len(name)-1], "z" + name[1:]} {
				if _, in := want[other]; !in {
					if got, ok := tab.get(other); ok {
						t.Fatalf("get(%q) = %d, want none", other, got)
					}
				}
			}
		}
	}
	if _, ok := x.get(""); ok {
		t.Fatal(`get("") found a value`)
	}
	for name := range want {
		next := x.with(name, -1)
		if got, _ := next.get(name); got != -1 {
			t.Fatalf("with(%q) did not replace the value", name)
		}
		if got, _ := x.get(name); got != want[name] {
			t.Fatalf("with(%q) changed the table it copied", name)
		}
		break
	}
}

func TestAllowedLongNames(t *testing.T) {
	long := strings.Repeat("n", 40)
	db, tbl, col := long+"_db", long+"_tbl", long+"_col"
	d := &dataset.Dataset{ID: db + "." + tbl, Grade: 2, Columns: []dataset.Column{
		{Name: col, Type: dataset.TypeString},
		{Name: col + "2", Type: dataset.TypeString, Grade: 1},
	}}
	ix := NewIndex(GradeScale{Key: "grade", Levels: 3}, "domain")
	ix.Load([]*dataset.Dataset{d}, &store.GrantsState{Grants: []*store.GroupGrant{
		{ID: "g1", Group: long + "_group", Grade: 2, Permissions: []string{"SELECT"}},
	}})
	group := []string{long + "_group"}
	cases := []struct {
		groups       []string
		db, tbl, col string
		want         bool
	}{
		{group, db, tbl, col, true},
		{group, db, tbl, col + "2", false},
		{[]string{long + "_grouq"}, db, tbl, col, false},
		{group, long + "_dc", tbl, col, false},
		{group, db, long + "_tbm", col, false},
		{group, db, tbl, long + "_cok", false},
	}
	for i, c := range cases {
		if got := ix.Allowed(c.groups, c.db, c.tbl, c.col, Select); got != c.want {
			t.Errorf("case %d: Allowed = %v, want %v", i, got, c.want)
		}
	}
	// A table changed afterwards is found under its long names too.
	d2 := d.Clone()
	d2.Columns[1].Grade = 3
	ix.SetDataset(d2)
	if !ix.Allowed(group, db, tbl, col+"2", Select) {
		t.Error("after SetDataset: Allowed = false, want true")
	}
}

// TestOracleColumnsByName runs the oracle test with columns whose names
// have ids above 2 left out of colSlots, so that decisions look them up by
// name.
func TestOracleColumnsByName(t *testing.T) {
	defer func(old uint32) { maxColID = old }(maxColID)
	maxColID = 2
	TestOracle(t)
}

func TestColSlots(t *testing.T) {
	// Column 3 repeats the name of column 1: the later is found.
	ids, grades := []uint32{7, 9, 3, 9}, []uint8{1, 0, 3, 2}
	x := newColSlots(ids, grades)
	for _, c := range []struct {
		id       uint32
		col      int
		grade    uint8
		notFound bool
	}{{id: 7, col: 0, grade: 1}, {id: 9, col: 3, grade: 2}, {id: 3, col: 2, grade: 3}, {id: 4, notFound: true}, {id: 1 << 20, notFound: true}} {
		slot, grade, ok := x.find(c.id)
		if ok == c.notFound || ok && (x.col(slot) != c.col || grade != c.grade) {
			t.Errorf("find(%d) = column %d grade %d %v, want column %d grade %d %v", c.id, x.col(slot), grade, ok, c.col, c.grade, !c.notFound)
		}
	}
	if _, _, ok := colSlots(nil).find(7); ok {
		t.Error("nil colSlots found a column")
	}
}
