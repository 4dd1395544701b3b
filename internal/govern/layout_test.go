package govern

import (
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// TestOracleLayouts runs the oracle test with only tables of at most two
// columns given a layout, so that decisions take both paths.
func TestOracleLayouts(t *testing.T) {
	defer func(old int) { layoutColumns = old }(layoutColumns)
	layoutColumns = 2
	TestOracle(t)
}

// TestLayouts checks that tables of the same columns share a layout, that
// the later of two columns of one name is found, and that tables whose
// grades are too large for a layout are decided by their colSlots.
func TestLayouts(t *testing.T) {
	cols := func(grades ...int) []dataset.Column {
		var cs []dataset.Column
		for i, g := range grades {
			name := string(rune('a' + i))
			if i == 3 {
				name = "b" // repeats column 1
			}
			cs = append(cs, dataset.Column{Name: name, Type: dataset.TypeString, Grade: g})
		}
		return cs
	}
	ds := []*dataset.Dataset{
		{ID: "db.t1", Grade: 2, Columns: cols(0, 1, 3, 20)},
		{ID: "db.t2", Grade: 18, Columns: cols(0, 1, 3, 16)},
		{ID: "db.t3", Grade: 3, Columns: cols(1, 0, 0, 2)},
	}
	st := &store.GrantsState{Grants: []*store.GroupGrant{
		{ID: "g1", Group: "low", Grade: 2, Permissions: []string{"SELECT"}},
		{ID: "g2", Group: "high", Grade: 17, Permissions: []string{"SELECT"}},
	}}
	ix := NewIndex(GradeScale{Key: "grade", Levels: 20}, "domain")
	ix.Load(ds, st)
	s := ix.load()
	t1, t2, t3 := s.table("db", "t1"), s.table("db", "t2"), s.table("db", "t3")
	if t1.layout != nil || t2.layout != nil {
		t.Error("a table with a grade above 15 has a layout")
	}
	if t3.layout == nil {
		t.Fatal("t3 has no layout")
	}
	for _, c := range []struct {
		group, table, col string
		want              bool
	}{
		{"low", "t1", "a", true}, {"low", "t1", "b", true}, {"high", "t1", "b", true}, {"high", "t1", "c", false},
		{"high", "t2", "a", true}, {"high", "t2", "b", false}, {"low", "t2", "b", true}, {"high", "t2", "c", false},
		{"low", "t3", "a", false}, {"low", "t3", "b", true}, {"low", "t3", "c", true}, {"high", "t3", "c", false},
		{"low", "t3", "d", false}, {"low", "t4", "a", false},
	} {
		if got := ix.Allowed([]string{c.group}, "db", c.table, c.col, Select); got != c.want {
			t.Errorf("Allowed(%s, %s.%s) = %v, want %v", c.group, c.table, c.col, got, c.want)
		}
	}
	// A table of the same columns shares t3's layout, also when added later.
	ix.SetDataset(&dataset.Dataset{ID: "db.t5", Grade: 1, Columns: cols(3, 3, 3, 3)})
	if t5 := ix.load().table("db", "t5"); t5.layout != t3.layout {
		t.Error("t5 does not share t3's layout")
	}
	if !ix.Allowed([]string{"low"}, "db", "t5", "b", Select) || ix.Allowed([]string{"low"}, "db", "t5", "x", Select) {
		t.Error("t5 decided wrong")
	}
}
