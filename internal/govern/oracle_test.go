package govern

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// The oracle test checks the index against a deliberately simple evaluator
// of the rules, written here from the rules alone: string tag values,
// inheritance by lookup, expressions as maps, no precomputation.

var (
	oracleSeed  = flag.Uint64("oracle.seed", 0, "seed of the oracle test (0: time-based)")
	oracleCases = flag.Int("oracle.cases", 10000, "random worlds the oracle test checks")
)

// world is a random catalog with tags and grants.
type world struct {
	levels   int
	datasets []*dataset.Dataset
	tags     map[Resource]map[string]string // explicit tags, grade of databases included
	grants   []*store.GroupGrant
	compiled []oracleGrant // of grants, by position
}

var (
	oracleGroups  = []string{"g1", "g2", "g3"}
	oracleDomains = []string{"d1", "d2", "d3"}
)

// randomWorld builds a small random world.
func randomWorld(r *rand.Rand) *world {
	w := &world{levels: 2 + r.IntN(3), tags: map[Resource]map[string]string{}}
	setTag := func(res Resource, k, v string) {
		if w.tags[res] == nil {
			w.tags[res] = map[string]string{}
		}
		w.tags[res][k] = v
	}
	// Random tags on a resource: maybe a domain, maybe a noise key.
	randomTags := func(res Resource) {
		if r.IntN(3) == 0 {
			setTag(res, "domain", oracleDomains[r.IntN(len(oracleDomains))])
		}
		if r.IntN(4) == 0 {
			setTag(res, "owner", "o"+strconv.Itoa(r.IntN(2)))
		}
	}
	for db := range 1 + r.IntN(3) {
		dbName := "db" + strconv.Itoa(db)
		if r.IntN(3) != 0 { // some databases untagged for the grade
			setTag(Resource{Database: dbName}, "grade", strconv.Itoa(1+r.IntN(w.levels)))
		}
		randomTags(Resource{Database: dbName})
		for tb := range r.IntN(4) {
			d := &dataset.Dataset{ID: fmt.Sprintf("%s.t%d", dbName, tb)}
			if r.IntN(2) == 0 {
				d.Grade = 1 + r.IntN(w.levels)
			}
			randomTags(Resource{Database: dbName, Table: tblName(d)})
			for c := range r.IntN(5) {
				col := dataset.Column{Name: "c" + strconv.Itoa(c), Type: dataset.TypeString}
				if r.IntN(3) == 0 {
					col.Grade = 1 + r.IntN(w.levels)
				}
				randomTags(Resource{Database: dbName, Table: tblName(d), Column: col.Name})
				d.Columns = append(d.Columns, col)
			}
			w.datasets = append(w.datasets, d)
		}
	}
	for i := range r.IntN(5) {
		g := &store.GroupGrant{ID: fmt.Sprintf("grant%02d", i), Group: oracleGroups[r.IntN(len(oracleGroups))], Grade: 1 + r.IntN(w.levels)}
		g.Permissions = randomPerms(r).Names()
		if r.IntN(2) == 0 {
			for _, d := range oracleDomains {
				if r.IntN(2) == 0 {
					g.Domains = append(g.Domains, d)
				}
			}
		}
		w.grants = append(w.grants, g)
	}
	for _, g := range w.grants {
		w.compiled = append(w.compiled, w.oracleGrant(g))
	}
	return w
}

// randomPerms returns a non-empty random set of permissions.
func randomPerms(r *rand.Rand) PermSet {
	for {
		if s := PermSet(r.IntN(1 << numPermissions)); s != 0 {
			return s
		}
	}
}

// --- the oracle ---

// effective returns the value of key in force on a resource: its own, else
// its table's, else its database's; "" when none.
func (w *world) effective(key string, db string, d *dataset.Dataset, col *dataset.Column) string {
	if key == "grade" {
		if col != nil && col.Grade != 0 {
			return strconv.Itoa(col.Grade)
		}
		if d != nil && d.Grade != 0 {
			return strconv.Itoa(d.Grade)
		}
		return w.tags[Resource{Database: db}]["grade"]
	}
	if d != nil && col != nil {
		if v, ok := w.tags[Resource{Database: db, Table: tblName(d), Column: col.Name}][key]; ok {
			return v
		}
	}
	if d != nil {
		if v, ok := w.tags[Resource{Database: db, Table: tblName(d)}][key]; ok {
			return v
		}
	}
	return w.tags[Resource{Database: db}][key]
}

// expression is a grant's tag expression: key -> allowed values.
func (w *world) expression(grade int, domains []string) map[string][]string {
	e := map[string][]string{}
	for v := grade; v <= w.levels; v++ {
		e["grade"] = append(e["grade"], strconv.Itoa(v))
	}
	if len(domains) > 0 {
		e["domain"] = domains
	}
	return e
}

// matches evaluates an expression on a resource: every key has one of its
// values; an untagged resource matches nothing.
func (w *world) matches(e map[string][]string, d *dataset.Dataset, col *dataset.Column) bool {
	for k, vals := range e {
		v := w.effective(k, d.Namespace(), d, col)
		if v == "" || !slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

// oracleGrant is a grant as the oracle sees it.
type oracleGrant struct {
	expr  map[string][]string
	perms []string
}

func (w *world) oracleGrant(g *store.GroupGrant) oracleGrant {
	return oracleGrant{expr: w.expression(g.Grade, g.Domains), perms: g.Permissions}
}

// whole reports whether the grant matches the table and every column.
func (w *world) whole(g oracleGrant, d *dataset.Dataset) bool {
	if !w.matches(g.expr, d, nil) {
		return false
	}
	for i := range d.Columns {
		if !w.matches(g.expr, d, &d.Columns[i]) {
			return false
		}
	}
	return true
}

// oracleAllowed: some grant of the groups has the permission and, for
// SELECT/DESCRIBE on a column, matches the column, else matches the whole
// table.
func (w *world) oracleAllowed(groups []string, d *dataset.Dataset, col *dataset.Column, perm string) bool {
	for i, g := range w.grants {
		if !slices.Contains(groups, g.Group) || !slices.Contains(g.Permissions, perm) {
			continue
		}
		og := w.compiled[i]
		if col != nil && (perm == "SELECT" || perm == "DESCRIBE") {
			if w.matches(og.expr, d, col) {
				return true
			}
		} else if w.whole(og, d) {
			return true
		}
	}
	return false
}

// oracleAccessible: the columns opened by grants that keep a permission on
// the table, and the union of those permissions.
func (w *world) oracleAccessible(grants []oracleGrant, d *dataset.Dataset) (AccessibleTable, bool) {
	open := map[string]bool{}
	var perms []string
	for _, g := range grants {
		whole := w.whole(g, d)
		var kept []string
		for _, p := range g.perms {
			if whole || p == "SELECT" || p == "DESCRIBE" {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			continue
		}
		opened := whole && len(d.Columns) == 0
		for i := range d.Columns {
			if whole || w.matches(g.expr, d, &d.Columns[i]) {
				open[d.Columns[i].Name] = true
				opened = true
			}
		}
		if opened {
			perms = append(perms, kept...)
		}
	}
	if len(perms) == 0 {
		return AccessibleTable{}, false
	}
	at := AccessibleTable{Database: d.Namespace(), Table: tblName(d), Columns: []string{}, ExcludedColumns: []string{}}
	for _, p := range perms {
		pp, _ := ParsePermission(p)
		at.Permissions = at.Permissions.With(pp)
	}
	for _, c := range d.Columns {
		if open[c.Name] {
			at.Columns = append(at.Columns, c.Name)
		} else {
			at.ExcludedColumns = append(at.ExcludedColumns, c.Name)
		}
	}
	return at, true
}

// sortedDatasets returns the datasets in (database, table) order.
func (w *world) sortedDatasets() []*dataset.Dataset {
	ds := slices.Clone(w.datasets)
	slices.SortFunc(ds, func(a, b *dataset.Dataset) int {
		if c := cmpString(a.Namespace(), b.Namespace()); c != 0 {
			return c
		}
		return cmpString(tblName(a), tblName(b))
	})
	return ds
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// --- building the index ---

// buildIndex builds the index of a world, at once or change by change.
func buildIndex(r *rand.Rand, w *world, incremental bool) *Index {
	ix := NewIndex(GradeScale{Key: "grade", Levels: w.levels}, "domain")
	if !incremental {
		st := &store.GrantsState{Grants: w.grants}
		for res, tags := range w.tags {
			st.Tags = append(st.Tags, &store.ResourceTags{Resource: res.toStore(), Tags: tags})
		}
		ix.Load(w.datasets, st)
		return ix
	}
	var steps []func()
	for _, d := range w.datasets {
		steps = append(steps, func() { ix.SetDataset(d) })
	}
	for res, tags := range w.tags {
		steps = append(steps, func() { ix.SetTags(res, tags) })
	}
	for _, g := range w.grants {
		steps = append(steps, func() { ix.SetGrant(g) })
	}
	// Noise that is undone: a grant, and a dataset that comes and goes.
	steps = append(steps, func() {
		ix.SetGrant(&store.GroupGrant{ID: "zz", Group: "g1", Grade: 1, Permissions: []string{"SELECT", "ALTER"}})
		ix.RemoveGrant("zz")
	})
	r.Shuffle(len(steps), func(i, j int) { steps[i], steps[j] = steps[j], steps[i] })
	for _, s := range steps {
		s()
	}
	return ix
}

// --- the test ---

func TestOracle(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("oracle seed %d: rerun with go test ./internal/govern -run TestOracle -oracle.seed=%d", seed, seed)
		}
	})
	r := rand.New(rand.NewPCG(seed, 0x1a7e))
	groupSets := [][]string{{"g1"}, {"g2"}, {"g3"}, {"g1", "g2"}, {"g1", "g2", "g3"}, {"nobody"}, nil}
	var decisions, lists, resolves int
	for n := range *oracleCases {
		w := randomWorld(r)
		ix := buildIndex(r, w, n%2 == 1)
		snap := ix.load()
		svc := &Service{ix: ix, scale: ix.scale, domainKey: "domain"}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d (seed %d): %s\nworld: levels %d, tags %v, grants %+v, datasets %s",
				n, seed, fmt.Sprintf(format, args...), w.levels, w.tags, derefGrants(w.grants), describeDatasets(w.datasets))
		}
		for _, d := range w.datasets {
			db, tbl := d.Namespace(), tblName(d)
			for _, groups := range groupSets {
				for p := range numPermissions {
					// Single-column decisions.
					var wantAllowed, wantDenied []string
					for i := range d.Columns {
						c := &d.Columns[i]
						want := w.oracleAllowed(groups, d, c, p.String())
						if got := ix.Allowed(groups, db, tbl, c.Name, p); got != want {
							fail("Allowed(%v, %s.%s.%s, %s) = %v, oracle %v", groups, db, tbl, c.Name, p, got, want)
						}
						if want {
							wantAllowed = append(wantAllowed, c.Name)
						} else {
							wantDenied = append(wantDenied, c.Name)
						}
						decisions++
					}
					// The readable columns of the table for one group.
					if p == Select && len(groups) == 1 {
						if got := ix.ReadableColumns(nil, groups[0], db, tbl); !slices.Equal(got, wantAllowed) {
							fail("ReadableColumns(%s, %s.%s) = %v, oracle %v", groups[0], db, tbl, got, wantAllowed)
						}
						lists++
					}
					// Whole-table CheckAccess.
					dec := snap.decide(Check{Groups: groups, Database: db, Table: tbl, Permission: p})
					wantAll := len(wantDenied) == 0 && len(wantAllowed) > 0
					if len(d.Columns) == 0 {
						wantAll = w.oracleAllowed(groups, d, nil, p.String())
					} else if !slices.Equal(dec.AllowedColumns, nonNil(wantAllowed)) || !slices.Equal(dec.DeniedColumns, nonNil(wantDenied)) {
						fail("CheckAccess(%v, %s.%s, %s) columns %v/%v, oracle %v/%v", groups, db, tbl, p, dec.AllowedColumns, dec.DeniedColumns, wantAllowed, wantDenied)
					}
					if dec.Allowed != wantAll || dec.Reason == "" {
						fail("CheckAccess(%v, %s.%s, %s) = %+v, oracle allowed %v", groups, db, tbl, p, dec, wantAll)
					}
					decisions++
				}
			}
		}
		// ListAccessibleTables per group, paged by 1 or 2.
		for _, group := range oracleGroups {
			var grants []oracleGrant
			for _, g := range w.grants {
				if g.Group == group {
					grants = append(grants, w.oracleGrant(g))
				}
			}
			var want []AccessibleTable
			for _, d := range w.sortedDatasets() {
				if at, ok := w.oracleAccessible(grants, d); ok {
					want = append(want, at)
				}
			}
			var got []AccessibleTable
			token := ""
			for pages := 0; ; pages++ {
				page, next, err := svc.ListAccessibleTables(group, 1+n%2, token)
				if err != nil || pages > 20 {
					fail("ListAccessibleTables(%s): %v after %d pages", group, err, pages)
				}
				got = append(got, page...)
				if token = next; token == "" {
					break
				}
			}
			if !slices.EqualFunc(got, want, equalAccessible) {
				fail("ListAccessibleTables(%s) = %+v, oracle %+v", group, got, want)
			}
			lists++
		}
		// ResolveGrant of a random hypothetical grant.
		grade, perms := 1+r.IntN(w.levels), randomPerms(r)
		var domains []string
		if r.IntN(2) == 0 {
			domains = []string{oracleDomains[r.IntN(len(oracleDomains))], "d9"}
		}
		og := oracleGrant{expr: w.expression(grade, domains), perms: perms.Names()}
		var want []AccessibleTable
		for _, d := range w.sortedDatasets() {
			if at, ok := w.oracleAccessible([]oracleGrant{og}, d); ok {
				want = append(want, at)
			}
		}
		if got := ix.Resolve(grade, perms, domains); !slices.EqualFunc(got, want, equalAccessible) {
			fail("Resolve(%d, %v, %v) = %+v, oracle %+v", grade, perms.Names(), domains, got, want)
		}
		resolves++
	}
	t.Logf("seed %d: %d worlds, %d decisions, %d listings, %d resolutions agree with the oracle", seed, *oracleCases, decisions, lists, resolves)
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func derefGrants(gs []*store.GroupGrant) []store.GroupGrant {
	var out []store.GroupGrant
	for _, g := range gs {
		out = append(out, *g)
	}
	return out
}

func describeDatasets(ds []*dataset.Dataset) string {
	s := ""
	for _, d := range ds {
		s += fmt.Sprintf("\n  %s grade %d:", d.ID, d.Grade)
		for _, c := range d.Columns {
			s += fmt.Sprintf(" %s(%d)", c.Name, c.Grade)
		}
	}
	return s
}

// tblName is the table part of a dataset's id.
func tblName(d *dataset.Dataset) string {
	_, t, _ := dataset.SplitID(d.ID)
	return t
}
