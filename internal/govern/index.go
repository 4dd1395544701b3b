package govern

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// noGrade is a group's minimum grade for a permission it holds by no grant:
// above every grade, so that no column reaches it.
const noGrade = 0xFF

// Where an effective tag value comes from.
const (
	fromNone uint8 = iota
	fromColumn
	fromTable
	fromDatabase
)

var fromNames = [...]string{"untagged", "on the column", "inherited from the table", "inherited from the database"}

// Index answers access questions from memory. It holds the catalog (the
// datasets), the explicit tags and the group grants, and a compiled,
// immutable snapshot of them that readers load without locking: effective
// grades and domains of every table and column as small integers, and per
// group and permission the least grade it reads. Writers (the Service)
// change it under a mutex and publish a new snapshot, so a reader sees
// every change whose call has returned.
//
// The zero Index is not usable; make one with NewIndex.
type Index struct {
	mu        sync.Mutex
	scale     GradeScale
	domainKey string
	datasets  map[string]*tableSource // by dataset id; never changed once stored
	tags      map[Resource]map[string]string
	grants    map[string]*store.GroupGrant
	tagKeys   map[string]*store.TagKey
	domainIDs map[string]uint16 // writer side; copied into snapshots as it grows
	// colIDs interns column names (writer side); colIDsIx is its lookup
	// as last published, which lacks the names of colIDsNew.
	colIDs    map[string]uint32
	colIDsIx  keyTable[uint32]
	colIDsNew []string
	// layouts are the column layouts of the tables compiled, by the ids
	// of their column names (4 bytes each), so that tables of the same
	// columns share one (see tableRef).
	layouts map[string]*colLayout
	snap    atomic.Pointer[snapshot]
}

// snapshot is one immutable state of the index.
type snapshot struct {
	scale     GradeScale
	domainKey string
	domainIDs map[string]uint16
	dbs       map[string]*dbEntry
	dbNames   []string // sorted
	groups    map[string]*groupEntry
	tagKeys   map[string]*store.TagKey
	grants    map[string]*store.GroupGrant
	// dbIx finds a database's table lookup (its tableIx), groupIx a
	// group, and colIDs the id of a column name, which a table's colSlots
	// find.
	dbIx    keyTable[keyTable[tableRef]]
	groupIx keyTable[*groupEntry]
	colIDs  keyTable[uint32]
}

// dbEntry is a database (a namespace of datasets, or a database with
// explicit tags).
type dbEntry struct {
	name     string
	explicit map[string]string
	grade    uint8
	domain   uint16
	tables   []*tableEntry // by name
	tableIx  keyTable[tableRef]
}

// tableAt returns where the table called name is, or would be, in
// db.tables, and whether it is there.
func (db *dbEntry) tableAt(name string) (int, bool) {
	return slices.BinarySearchFunc(db.tables, name, func(t *tableEntry, name string) int { return strings.Compare(t.name, name) })
}

// tableEntry is a compiled table: its effective tags and its columns'.
type tableEntry struct {
	db, name string
	// slots finds a column's index and effective grade by the id of its
	// name; the table's slot in its database's tableIx holds a copy for
	// Allowed.
	slots      colSlots
	explicit   map[string]string // without the grade, which is the dataset's Grade
	grade      uint8
	gradeFrom  uint8
	domain     uint16
	domainFrom uint8
	cols       []colEntry
	// minGrade is the least effective grade of the table and its columns, 0
	// when any of them is untagged: a grant opens the whole table when its
	// grade is at most minGrade (and its domains cover domainSet).
	minGrade uint8
	// domainSet are the distinct effective domains of the table and its
	// columns (0: no domain), sorted.
	domainSet []uint16
	// layout, when not nil, finds a column's index by the id of its name
	// (slots is nil then), and grades are the columns' effective grades:
	// the table's slot in its database's tableIx holds both (see
	// tableRef).
	layout *colLayout
	grades packedGrades
}

// colEntry is a compiled column.
type colEntry struct {
	name       string
	explicit   map[string]string // without the grade, which is the column's Grade
	grade      uint8
	gradeFrom  uint8
	domain     uint16
	domainFrom uint8
}

// groupEntry is a compiled group: its grants, and per permission the least
// grade a grant without domains gives (minAny) and, per domain id, the
// least grade a grant naming that domain gives (byDomain).
type groupEntry struct {
	name      string
	grants    []*compiledGrant // by id
	minAny    [numPermissions]uint8
	byDomain  [numPermissions][]uint8
	hasDomain [numPermissions]bool
}

// compiledGrant is a group grant with its domains as ids.
type compiledGrant struct {
	g       *store.GroupGrant
	grade   uint8
	perms   PermSet
	domains []uint16 // sorted; empty: not narrowed
	// label names the grant and its expression in reasons.
	label string
}

// NewIndex returns an empty index for a grade scale and domain key.
func NewIndex(scale GradeScale, domainKey string) *Index {
	ix := &Index{scale: scale, domainKey: domainKey}
	ix.reset()
	ix.publish(ix.compileAll())
	return ix
}

// reset empties the writer-side state.
func (ix *Index) reset() {
	ix.datasets = map[string]*tableSource{}
	ix.tags = map[Resource]map[string]string{}
	ix.grants = map[string]*store.GroupGrant{}
	ix.tagKeys = map[string]*store.TagKey{}
	ix.domainIDs = map[string]uint16{}
	ix.colIDs = map[string]uint32{}
	ix.colIDsIx, ix.colIDsNew = keyTable[uint32]{}, nil
	ix.layouts = map[string]*colLayout{}
}

func (ix *Index) publish(s *snapshot) { ix.snap.Store(s) }

func (ix *Index) load() *snapshot { return ix.snap.Load() }

// Load replaces the whole state of the index with the given datasets and
// grants state, as read from the store at start or on Rebuild.
func (ix *Index) Load(datasets []*dataset.Dataset, st *store.GrantsState) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.reset()
	for _, d := range datasets {
		ix.datasets[d.ID] = sourceOf(d)
	}
	if st != nil {
		for _, k := range st.TagKeys {
			ix.tagKeys[k.Key] = k
		}
		for _, rt := range st.Tags {
			ix.tags[Resource(rt.Resource)] = maps.Clone(rt.Tags)
		}
		for _, g := range st.Grants {
			ix.grants[g.ID] = g
		}
	}
	ix.publish(ix.compileAll())
}

// SetDataset records a created or changed dataset.
func (ix *Index) SetDataset(d *dataset.Dataset) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.datasets[d.ID] = sourceOf(d)
	ns, tbl, _ := dataset.SplitID(d.ID)
	ix.publish(ix.withTable(ix.load(), ns, tbl))
}

// RemoveDataset forgets a deleted dataset and the explicit tags of its
// table and columns.
func (ix *Index) RemoveDataset(id string) { ix.removeDataset(id, true) }

// ForgetDataset forgets a deleted dataset and keeps the tags of its table
// and columns, as a reload from a store that still holds them would.
func (ix *Index) ForgetDataset(id string) { ix.removeDataset(id, false) }

func (ix *Index) removeDataset(id string, withTags bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.datasets, id)
	ns, tbl, _ := dataset.SplitID(id)
	for r := range ix.tags {
		if withTags && r.Database == ns && r.Table == tbl {
			delete(ix.tags, r)
		}
	}
	ix.publish(ix.withTable(ix.load(), ns, tbl))
}

// SetTags records the explicit tags (without the grade of tables and
// columns) that a resource carries now.
func (ix *Index) SetTags(r Resource, tags map[string]string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(tags) == 0 {
		delete(ix.tags, r)
	} else {
		ix.tags[r] = maps.Clone(tags)
	}
	if r.Table == "" {
		ix.publish(ix.withDatabase(ix.load(), r.Database))
		return
	}
	ix.publish(ix.withTable(ix.load(), r.Database, r.Table))
}

// SetGrant records a created or changed group grant; a grant that moved
// to another group leaves its old one.
func (ix *Index) SetGrant(g *store.GroupGrant) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	old := ix.grants[g.ID]
	ix.grants[g.ID] = g
	s := ix.withGroup(ix.load(), g.Group)
	if old != nil && old.Group != g.Group {
		s = ix.withGroup(s, old.Group) // the grant left it
	}
	ix.publish(s)
}

// RemoveGrant forgets a deleted group grant.
func (ix *Index) RemoveGrant(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	g, ok := ix.grants[id]
	if !ok {
		return
	}
	delete(ix.grants, id)
	ix.publish(ix.withGroup(ix.load(), g.Group))
}

// SetTagKey records a created tag key; a nil k with key removes it.
func (ix *Index) SetTagKey(key string, k *store.TagKey) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if k == nil {
		delete(ix.tagKeys, key)
	} else {
		ix.tagKeys[key] = k
	}
	s := *ix.load()
	s.tagKeys = maps.Clone(ix.tagKeys)
	ix.publish(&s)
}

// domainID returns the id of a domain value, interning it; 0 for "".
func (ix *Index) domainID(v string) uint16 {
	if v == "" {
		return 0
	}
	if id, ok := ix.domainIDs[v]; ok {
		return id
	}
	id := uint16(len(ix.domainIDs) + 1)
	ix.domainIDs[v] = id
	return id
}

// colID returns the id of a column name, interning it; ids start at 1.
func (ix *Index) colID(name string) uint32 {
	if id, ok := ix.colIDs[name]; ok {
		return id
	}
	id := uint32(len(ix.colIDs) + 1)
	ix.colIDs[name] = id
	ix.colIDsNew = append(ix.colIDsNew, name)
	return id
}

// colIDTable returns the column name lookup for a new snapshot, with the
// names interned since the last one.
func (ix *Index) colIDTable() keyTable[uint32] {
	if len(ix.colIDsNew) > 0 || ix.colIDsIx.slots == nil {
		ix.colIDsIx = ix.colIDsIx.withAll(ix.colIDsNew, func(name string) uint32 { return ix.colIDs[name] })
		ix.colIDsNew = ix.colIDsNew[:0]
	}
	return ix.colIDsIx
}

// compileAll compiles the whole state into a new snapshot.
func (ix *Index) compileAll() *snapshot {
	s := &snapshot{
		scale:     ix.scale,
		domainKey: ix.domainKey,
		dbs:       map[string]*dbEntry{},
		groups:    map[string]*groupEntry{},
		tagKeys:   maps.Clone(ix.tagKeys),
		grants:    maps.Clone(ix.grants),
	}
	names := map[string]bool{}
	for id := range ix.datasets {
		ns, _, _ := dataset.SplitID(id)
		names[ns] = true
	}
	for r := range ix.tags {
		if r.Table == "" {
			names[r.Database] = true
		}
	}
	for name := range names {
		s.dbs[name] = ix.compileDatabase(name)
	}
	s.dbNames = slices.Sorted(maps.Keys(s.dbs))
	groups := map[string]bool{}
	for _, g := range ix.grants {
		groups[g.Group] = true
	}
	for name := range groups {
		s.groups[name] = ix.compileGroup(name)
	}
	s.domainIDs = maps.Clone(ix.domainIDs)
	s.dbIx = dbRefs(s.dbs)
	s.groupIx = keyTableOf(s.groups)
	s.colIDs = ix.colIDTable()
	return s
}

// compileDatabase compiles a database and all its tables, or returns nil
// when it has neither tables nor explicit tags.
func (ix *Index) compileDatabase(name string) *dbEntry {
	db := &dbEntry{name: name, explicit: ix.tags[Resource{Database: name}]}
	db.grade = uint8(ix.scale.parse(db.explicit[ix.scale.Key]))
	db.domain = ix.domainID(db.explicit[ix.domainKey])
	for id, d := range ix.datasets {
		ns, tbl, _ := dataset.SplitID(id)
		if ns == name {
			db.tables = append(db.tables, ix.compileTable(db, tbl, d))
		}
	}
	if len(db.tables) == 0 && len(db.explicit) == 0 {
		return nil
	}
	slices.SortFunc(db.tables, func(a, b *tableEntry) int { return strings.Compare(a.name, b.name) })
	db.tableIx = tableRefs(db.tables)
	return db
}

// tableSource is what the index keeps of a dataset to compile its table
// from: the grades and the column names. Whole datasets (types,
// descriptions, partitioning) held 33 MB for 10,000 tables of 30 columns
// (lakebench authz), against 6 MB for this.
type tableSource struct {
	grade int
	cols  []colSource
}

type colSource struct {
	name  string
	grade int
}

func sourceOf(d *dataset.Dataset) *tableSource {
	src := &tableSource{grade: d.Grade, cols: make([]colSource, len(d.Columns))}
	for i, c := range d.Columns {
		src.cols[i] = colSource{name: c.Name, grade: c.Grade}
	}
	return src
}

// compileTable compiles one table of db.
func (ix *Index) compileTable(db *dbEntry, name string, d *tableSource) *tableEntry {
	t := &tableEntry{db: db.name, name: name, explicit: ix.tags[Resource{Database: db.name, Table: name}]}
	t.grade, t.gradeFrom = db.grade, fromDatabase
	if g := ix.gradeOf(d.grade); g != 0 {
		t.grade, t.gradeFrom = g, fromTable
	}
	if t.grade == 0 {
		t.gradeFrom = fromNone
	}
	t.domain, t.domainFrom = db.domain, fromDatabase
	if v, ok := t.explicit[ix.domainKey]; ok {
		t.domain, t.domainFrom = ix.domainID(v), fromTable
	}
	if t.domain == 0 {
		t.domainFrom = fromNone
	}
	t.cols = make([]colEntry, len(d.cols))
	ids, grades := make([]uint32, len(d.cols)), make([]uint8, len(d.cols))
	t.minGrade = t.grade
	domains := []uint16{t.domain}
	for i, c := range d.cols {
		ce := colEntry{name: c.name, explicit: ix.tags[Resource{Database: db.name, Table: name, Column: c.name}]}
		ce.grade, ce.gradeFrom = t.grade, fromTable
		if t.gradeFrom == fromDatabase {
			ce.gradeFrom = fromDatabase
		}
		if g := ix.gradeOf(c.grade); g != 0 {
			ce.grade, ce.gradeFrom = g, fromColumn
		}
		if ce.grade == 0 {
			ce.gradeFrom = fromNone
		}
		ce.domain, ce.domainFrom = t.domain, t.domainFrom
		if t.domainFrom == fromTable {
			ce.domainFrom = fromTable
		}
		if v, ok := ce.explicit[ix.domainKey]; ok {
			ce.domain, ce.domainFrom = ix.domainID(v), fromColumn
		}
		if ce.domain == 0 {
			ce.domainFrom = fromNone
		}
		domains = append(domains, ce.domain)
		t.cols[i] = ce
		ids[i], grades[i] = ix.colID(c.name), ce.grade
	}
	// A table has a shared layout and its grades packed, or else its own
	// colSlots (or, when neither can hold its columns, neither).
	if t.layout = ix.layoutOf(t.cols, ids, grades); t.layout != nil {
		for ci, g := range grades {
			t.grades[ci>>4] |= uint64(g) << (uint(ci&15) * 4)
		}
	} else {
		t.slots = newColSlots(ids, grades)
	}
	// Any untagged column or table keeps minGrade at 0.
	for _, c := range t.cols {
		if c.grade == 0 || t.minGrade == 0 {
			t.minGrade = 0
			break
		}
		t.minGrade = min(t.minGrade, c.grade)
	}
	slices.Sort(domains)
	t.domainSet = slices.Compact(domains)
	return t
}

// layoutOf returns the shared layout of a table of columns cols, whose
// names have ids ids, or nil when its columns, grades or ids are too many
// or too large for one.
func (ix *Index) layoutOf(cols []colEntry, ids []uint32, grades []uint8) *colLayout {
	if len(ids) > layoutColumns {
		return nil
	}
	for _, g := range grades {
		if g > maxLayoutGrade {
			return nil
		}
	}
	var buf [4 * maxLayoutColumns]byte
	key := buf[:0]
	for _, id := range ids {
		key = append(key, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	if l, ok := ix.layouts[string(key)]; ok {
		return l
	}
	cis := make([]uint8, len(ids))
	names := make([]string, len(ids))
	for ci := range cis {
		cis[ci], names[ci] = uint8(ci), cols[ci].name
	}
	slots := newColSlots(ids, cis)
	if slots == nil {
		return nil
	}
	l := &colLayout{slots: slots, names: names}
	ix.layouts[string(key)] = l
	return l
}

// gradeOf converts a dataset grade, 0 when it is not on the scale.
func (ix *Index) gradeOf(g int) uint8 {
	if g < 1 || g > ix.scale.Levels {
		return 0
	}
	return uint8(g)
}

// compileGroup compiles the grants of a group, or returns nil when it has
// none.
func (ix *Index) compileGroup(name string) *groupEntry {
	ge := &groupEntry{name: name}
	for p := range numPermissions {
		ge.minAny[p] = noGrade
	}
	for _, g := range ix.grants {
		if g.Group == name {
			ge.grants = append(ge.grants, ix.compileGrant(g))
		}
	}
	if len(ge.grants) == 0 {
		return nil
	}
	slices.SortFunc(ge.grants, func(a, b *compiledGrant) int { return strings.Compare(a.g.ID, b.g.ID) })
	n := len(ix.domainIDs) + 1
	for _, cg := range ge.grants {
		for p := range numPermissions {
			if !cg.perms.Has(p) {
				continue
			}
			if len(cg.domains) == 0 {
				ge.minAny[p] = min(ge.minAny[p], cg.grade)
				continue
			}
			if ge.byDomain[p] == nil {
				ge.byDomain[p] = slices.Repeat([]uint8{noGrade}, n)
			}
			ge.hasDomain[p] = true
			for _, d := range cg.domains {
				ge.byDomain[p][d] = min(ge.byDomain[p][d], cg.grade)
			}
		}
	}
	return ge
}

// compileGrant converts a stored grant; the caller holds ix.mu.
func (ix *Index) compileGrant(g *store.GroupGrant) *compiledGrant {
	cg := &compiledGrant{g: g, grade: ix.gradeOf(g.Grade)}
	if cg.grade == 0 {
		cg.grade = noGrade // a grade off the scale opens nothing
	}
	for _, p := range g.Permissions {
		if perm, err := ParsePermission(p); err == nil {
			cg.perms = cg.perms.With(perm)
		}
	}
	for _, d := range g.Domains {
		cg.domains = append(cg.domains, ix.domainID(d))
	}
	slices.Sort(cg.domains)
	cg.domains = slices.Compact(cg.domains)
	cg.label = fmt.Sprintf("group %q grant %s (%s)", g.Group, g.ID, grantExpr(ix.scale, ix.domainKey, cg.grade, g.Domains))
	return cg
}

// withTable returns a copy of s with the table db.tbl recompiled (or
// removed when it has no dataset any more).
func (ix *Index) withTable(old *snapshot, dbName, tbl string) *snapshot {
	s := *old
	s.dbs = maps.Clone(old.dbs)
	db := old.dbs[dbName]
	if db == nil {
		// A new database: compile it whole.
		ix.putDB(&s, dbName, ix.compileDatabase(dbName))
		s.domainIDs = ix.domainIDsFor(old)
		s.colIDs = ix.colIDTable()
		return &s
	}
	nd := *db
	d, ok := ix.datasets[dbName+"."+tbl]
	i, had := db.tableAt(tbl)
	switch {
	case ok:
		t := ix.compileTable(&nd, tbl, d)
		if had {
			nd.tables = slices.Clone(db.tables)
			nd.tables[i] = t
		} else {
			nd.tables = slices.Insert(slices.Clip(db.tables), i, t)
		}
		nd.tableIx = db.tableIx.with(tbl, t.ref())
	case had:
		nd.tables = slices.Delete(slices.Clone(db.tables), i, i+1)
		nd.tableIx = tableRefs(nd.tables)
	}
	if len(nd.tables) == 0 && len(nd.explicit) == 0 {
		ix.putDB(&s, dbName, nil)
	} else {
		ix.putDB(&s, dbName, &nd)
	}
	s.domainIDs = ix.domainIDsFor(old)
	s.colIDs = ix.colIDTable()
	return &s
}

// withDatabase returns a copy of s with a database and all its tables
// recompiled.
func (ix *Index) withDatabase(old *snapshot, dbName string) *snapshot {
	s := *old
	s.dbs = maps.Clone(old.dbs)
	ix.putDB(&s, dbName, ix.compileDatabase(dbName))
	s.domainIDs = ix.domainIDsFor(old)
	s.colIDs = ix.colIDTable()
	return &s
}

// withGroup returns a copy of s with a group recompiled.
func (ix *Index) withGroup(old *snapshot, group string) *snapshot {
	s := *old
	s.groups = maps.Clone(old.groups)
	if ge := ix.compileGroup(group); ge != nil {
		s.groups[group] = ge
	} else {
		delete(s.groups, group)
	}
	s.groupIx = keyTableOf(s.groups)
	s.grants = maps.Clone(ix.grants)
	s.domainIDs = ix.domainIDsFor(old)
	return &s
}

// putDB sets or (nil) removes a database of s, whose dbs map is its own.
func (ix *Index) putDB(s *snapshot, name string, db *dbEntry) {
	_, had := s.dbs[name]
	switch {
	case db != nil:
		s.dbs[name] = db
		s.dbIx = s.dbIx.with(name, db.tableIx)
		if !had {
			s.dbNames = insertSorted(s.dbNames, name)
		}
	case had:
		delete(s.dbs, name)
		s.dbIx = dbRefs(s.dbs)
		s.dbNames = removeSorted(s.dbNames, name)
	}
}

// domainIDsFor returns the domain ids for a new snapshot: old's map when no
// value was interned since, else a copy of the writer's.
func (ix *Index) domainIDsFor(old *snapshot) map[string]uint16 {
	if len(old.domainIDs) == len(ix.domainIDs) {
		return old.domainIDs
	}
	return maps.Clone(ix.domainIDs)
}

// insertSorted returns a new sorted slice with v added.
func insertSorted(ss []string, v string) []string {
	i, found := slices.BinarySearch(ss, v)
	if found {
		return ss
	}
	out := make([]string, 0, len(ss)+1)
	out = append(out, ss[:i]...)
	out = append(out, v)
	return append(out, ss[i:]...)
}

// removeSorted returns a new sorted slice without v.
func removeSorted(ss []string, v string) []string {
	i, found := slices.BinarySearch(ss, v)
	if !found {
		return ss
	}
	out := make([]string, 0, len(ss)-1)
	out = append(out, ss[:i]...)
	return append(out, ss[i+1:]...)
}

// table returns the compiled table, or nil.
func (s *snapshot) table(db, tbl string) *tableEntry {
	tables := s.dbIx.find(keyOf(db), db)
	if tables == nil {
		return nil
	}
	if ref := tables.find(keyOf(tbl), tbl); ref != nil {
		return ref.t
	}
	return nil
}

// group returns the compiled group, or nil when it holds no grant.
func (s *snapshot) group(name string) *groupEntry {
	g, _ := s.groupIx.get(name)
	return g
}

// matchesColumn reports whether a grant's expression matches a column.
func (cg *compiledGrant) matchesColumn(c *colEntry) bool {
	return c.grade != 0 && c.grade >= cg.grade && (len(cg.domains) == 0 || containsID(cg.domains, c.domain))
}

// matchesTable reports whether a grant's expression matches a table and
// all its columns: the grant opens the whole table.
func (cg *compiledGrant) matchesTable(t *tableEntry) bool {
	if t.minGrade == 0 || t.minGrade < cg.grade {
		return false
	}
	if len(cg.domains) == 0 {
		return true
	}
	for _, d := range t.domainSet {
		if !containsID(cg.domains, d) {
			return false
		}
	}
	return true
}

// containsID reports whether the short sorted list ids holds id (never 0).
func containsID(ids []uint16, id uint16) bool {
	if id == 0 {
		return false
	}
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// opensColumn reports whether a group holds the column-level permission p
// (SELECT or DESCRIBE) on column c.
func (g *groupEntry) opensColumn(p Permission, c *colEntry) bool {
	if c.grade == 0 {
		return false
	}
	if c.grade >= g.minAny[p] {
		return true
	}
	if bd := g.byDomain[p]; c.domain != 0 && int(c.domain) < len(bd) {
		return c.grade >= bd[c.domain]
	}
	return false
}

// opensTable reports whether a group holds p on the whole table t.
func (g *groupEntry) opensTable(p Permission, t *tableEntry) bool {
	if t.minGrade == 0 {
		return false
	}
	if t.minGrade >= g.minAny[p] {
		return true
	}
	if !g.hasDomain[p] {
		return false
	}
	for _, cg := range g.grants {
		if len(cg.domains) != 0 && cg.perms.Has(p) && cg.matchesTable(t) {
			return true
		}
	}
	return false
}

// allows reports whether group g holds p on column ci of t (ci < 0: on the
// table as a whole, for tables without columns).
func (g *groupEntry) allows(p Permission, t *tableEntry, ci int) bool {
	if ci >= 0 && p.columnLevel() {
		return g.opensColumn(p, &t.cols[ci])
	}
	return g.opensTable(p, t)
}

// grantAllows reports whether one grant gives p on column ci of t (ci < 0:
// the table as a whole).
func (cg *compiledGrant) allows(p Permission, t *tableEntry, ci int) bool {
	if !cg.perms.Has(p) {
		return false
	}
	if ci >= 0 && p.columnLevel() {
		return cg.matchesColumn(&t.cols[ci])
	}
	return cg.matchesTable(t)
}

// ref returns the table's entry in its database's table lookup.
func (t *tableEntry) ref() tableRef { return tableRef{t: t, layout: t.layout, grades: t.grades} }

// column returns the index and effective grade of the column of r's table
// whose name is name and name id is id; ok is false when there is none:
// by the layout and grades in r when it has them, else by the table's
// colSlots, else by name.
func (r *tableRef) column(id uint32, name string) (ci int, grade uint8, ok bool) {
	if r.layout != nil {
		if ci, ok = r.layout.column(id); !ok {
			return 0, 0, false
		}
		return ci, r.grades.grade(ci), true
	}
	return r.t.column(id, name)
}

// column returns the index and effective grade of the column of t whose
// name is name and name id is id by its colSlots, or by name when it has
// none; ok is false when there is none.
func (t *tableEntry) column(id uint32, name string) (ci int, grade uint8, ok bool) {
	if t.slots == nil {
		return t.columnByName(name)
	}
	slot, grade, ok := t.slots.find(id)
	if !ok {
		return 0, 0, false
	}
	return t.slots.col(slot), grade, true
}

// columnByName finds a column by comparing names, the last of a name as
// colSlots would: for tables too wide for colSlots.
func (t *tableEntry) columnByName(name string) (ci int, grade uint8, ok bool) {
	for i := len(t.cols) - 1; i >= 0; i-- {
		if t.cols[i].name == name {
			return i, t.cols[i].grade, true
		}
	}
	return 0, 0, false
}

// colIndex returns the index of t's column called name. Unlike Allowed, it
// finds a column whose name is empty too, as the lookups hold no empty name.
func (s *snapshot) colIndex(t *tableEntry, name string) (int, bool) {
	id, ok := s.colIDs.get(name)
	if !ok {
		ci, _, ok := t.columnByName(name)
		return ci, ok
	}
	ref := t.ref()
	ci, _, ok := ref.column(id, name)
	return ci, ok
}

// Allowed reports whether any of groups holds permission p on column of
// database.table. It is the hot path of access checks: the column name's
// id, the database and the table are found by short hashes into the
// snapshot's lookup tables, each compared in the slot it reads, the column
// by its id in the table's layout and its grade in the table's slot (or
// in one slot of the table's colSlots when it has no layout), without
// allocating. An unknown table or column is not allowed.
func (ix *Index) Allowed(groups []string, database, table, column string, p Permission) bool {
	s := ix.load()
	if p >= numPermissions {
		return false
	}
	// The keys first, as they depend on nothing: the lookups that follow
	// depend on one another, except the column name's, which is in cache
	// for the names that recur across tables.
	dbKey, tableKey, columnKey := keyOf(database), keyOf(table), keyOf(column)
	// Each lookup tries the first slot of its probe inline, and probes on
	// when that slot does not hold the name.
	id := s.colIDs.first(columnKey, columnKey.hash())
	if id == nil {
		if id = s.colIDs.find(columnKey, column); id == nil {
			return false
		}
	}
	tables := s.dbIx.first(dbKey, dbKey.hash())
	if tables == nil {
		if tables = s.dbIx.find(dbKey, database); tables == nil {
			return false
		}
	}
	ref := tables.first(tableKey, tableKey.hash())
	if ref == nil {
		if ref = tables.find(tableKey, table); ref == nil {
			return false
		}
	}
	ci, grade, ok := ref.column(*id, column)
	if !ok {
		return false
	}
	if !p.columnLevel() {
		for _, name := range groups {
			if g := s.group(name); g != nil && g.opensTable(p, ref.t) {
				return true
			}
		}
		return false
	}
	// A column-level permission: the effective grade against each group's
	// least grade, and the domain only when a grant of the group names
	// domains. An untagged column matches no grant.
	if grade == 0 {
		return false
	}
	for _, name := range groups {
		gk := keyOf(name)
		g := s.groupIx.first(gk, gk.hash())
		if g == nil {
			if g = s.groupIx.find(gk, name); g == nil {
				continue
			}
		}
		if *g == nil {
			continue
		}
		if grade >= (*g).minAny[p] || (*g).hasDomain[p] && (*g).opensColumn(p, &ref.t.cols[ci]) {
			return true
		}
	}
	return false
}

// ReadableColumns appends to dst the columns of database.table that group
// may SELECT, in table order, and returns the extended slice.
func (ix *Index) ReadableColumns(dst []string, group, database, table string) []string {
	s := ix.load()
	t := s.table(database, table)
	g := s.group(group)
	if t == nil || g == nil {
		return dst
	}
	if l := t.layout; l != nil && !g.hasDomain[Select] {
		// Without domains, a column is open when its grade (in the
		// table's packed grades) reaches the group's least grade; the
		// names are the layout's, shared by the tables of these columns.
		least := g.minAny[Select]
		for ci, name := range l.names {
			if grade := t.grades.grade(ci); grade != 0 && grade >= least {
				dst = append(dst, name)
			}
		}
		return dst
	}
	for i := range t.cols {
		if g.opensColumn(Select, &t.cols[i]) {
			dst = append(dst, t.cols[i].name)
		}
	}
	return dst
}

// tableAccess is what grants open on one table.
type tableAccess struct {
	open  []bool // per column
	perms PermSet
}

// accessOf computes what the grants open on t: the columns that a grant
// with remaining permissions opens, and the union of those permissions
// (all of a grant's where it opens the whole table, else only its SELECT
// and DESCRIBE). ok is false when nothing is opened.
func accessOf(grants []*compiledGrant, t *tableEntry, open []bool) (tableAccess, bool) {
	acc := tableAccess{open: open}
	for _, cg := range grants {
		full := cg.matchesTable(t)
		perms := cg.perms
		if !full {
			perms &= columnLevelPerms
		}
		if perms == 0 {
			continue
		}
		any := full && len(t.cols) == 0
		for i := range t.cols {
			if full || cg.matchesColumn(&t.cols[i]) {
				acc.open[i] = true
				any = true
			}
		}
		if any {
			acc.perms |= perms
		}
	}
	return acc, acc.perms != 0
}

// AccessibleTable is a table that grants open, with the columns they open
// and leave out and the permissions that hold on it.
type AccessibleTable struct {
	Database, Table string
	Columns         []string
	ExcludedColumns []string
	Permissions     PermSet
}

// accessible builds the AccessibleTable of t for grants, or ok false.
func accessible(grants []*compiledGrant, t *tableEntry) (AccessibleTable, bool) {
	acc, ok := accessOf(grants, t, make([]bool, len(t.cols)))
	if !ok {
		return AccessibleTable{}, false
	}
	at := AccessibleTable{Database: t.db, Table: t.name, Permissions: acc.perms, Columns: []string{}, ExcludedColumns: []string{}}
	for i, c := range t.cols {
		if acc.open[i] {
			at.Columns = append(at.Columns, c.name)
		} else {
			at.ExcludedColumns = append(at.ExcludedColumns, c.name)
		}
	}
	return at, true
}

// eachTable calls fn for every table in (database, table) order, starting
// after the table named by after ("" for the start) until fn returns false.
func (s *snapshot) eachTable(afterDB, afterTable string, fn func(t *tableEntry) bool) {
	i := sort.SearchStrings(s.dbNames, afterDB)
	for ; i < len(s.dbNames); i++ {
		db := s.dbs[s.dbNames[i]]
		j := 0
		if db.name == afterDB {
			var found bool
			if j, found = db.tableAt(afterTable); found {
				j++
			}
		}
		for _, t := range db.tables[j:] {
			if !fn(t) {
				return
			}
		}
	}
}
