package govern

import (
	"math/bits"
	"math/rand/v2"
	"slices"
)

// The lookup tables of the decision path: where Allowed finds a database,
// a table, the id of a column name and a group by name, and a column of
// the table by that id. They are immutable open-addressed hash tables,
// probed linearly, with no interface calls and no locks, whose slots hold
// the keys, so that a decision is four short hashes and, for a table not
// in cache, one cache miss: the table's slot, which holds its columns'
// grades and a layout that finds a column's index by the id of its name,
// shared by the tables of the same columns (see tableRef). Column names
// and layouts recur across tables, so they are in cache. A table without
// a layout costs a second miss, one line of its own colSlots (8 bytes a
// column).

// hashSeed and hashKey seed the hashes of names, at random per process,
// so that names cannot be chosen to collide.
var (
	hashSeed = rand.Uint64()
	hashKey  = rand.Uint64() | 1
)

// mix folds the 128-bit product of a and b into 64 bits.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// load64 reads the first 8 bytes of s as a little-endian word.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// load32 reads the first 4 bytes of s as a little-endian word.
func load32(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// nameKey stands for a name in the lookup tables. A name of at most 16
// bytes is its length and two words that cover every byte of it, so that
// two such keys are equal exactly when their names are; a longer name's
// words are a hash of it, and the tables compare the names themselves.
type nameKey struct {
	a, b uint64
	n    uint64
}

// shortKeyLength is the longest name that its key identifies.
const shortKeyLength = 16

// keyOf returns the key of name s.
func keyOf(s string) nameKey {
	k := nameKey{n: uint64(len(s))}
	switch n := len(s); {
	case n > shortKeyLength:
		k.a, k.b = longHash(s)
	case n > 8:
		k.a, k.b = load64(s), load64(s[n-8:])
	case n >= 4:
		k.a = load32(s)<<32 | load32(s[n-4:])
	case n > 0:
		k.a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return k
}

// longHash hashes a name longer than shortKeyLength into two words, 16
// bytes a multiplication, as wyhash does.
func longHash(s string) (uint64, uint64) {
	h := hashSeed
	for len(s) > shortKeyLength {
		h = mix(load64(s)^h, load64(s[8:])^hashKey)
		s = s[shortKeyLength:]
	}
	tail := keyOf(s)
	return h ^ tail.a, mix(h^tail.b, hashKey)
}

// hash returns the hash of k, which places it in a table.
func (k nameKey) hash() uint64 { return mix(k.a^hashSeed, k.b^k.n^hashKey) }

// long reports whether k is of a name longer than shortKeyLength.
func (k nameKey) long() bool { return k.n > shortKeyLength }

// slotsFor returns the number of slots for n entries: a power of two, at
// least twice n, so that probes are short.
func slotsFor(n int) int {
	size := 1
	for size < 2*n {
		size <<= 1
	}
	return size
}

// keyTable maps names to values: an immutable open-addressed hash table,
// probed linearly. A slot holds the key, so that a lookup compares words
// in the slot it reads; an empty slot has a zero key. The names of long
// keys, which must be compared too, are kept apart by slot (long is nil
// while there are none), so that a keyTable is two words and fits in the
// slot of another. The empty name is never stored, so it is never found.
type keyTable[V any] struct {
	slots []keySlot[V]
	long  *[]string
}

// keySlot is one slot of a keyTable.
type keySlot[V any] struct {
	key nameKey
	v   V
}

// newKeyTable returns an empty table sized for n entries.
func newKeyTable[V any](n int) keyTable[V] {
	return keyTable[V]{slots: make([]keySlot[V], slotsFor(n))}
}

// keyTableOf returns a table of the entries of m.
func keyTableOf[V any](m map[string]V) keyTable[V] {
	x := newKeyTable[V](len(m))
	for name, v := range m {
		x.put(name, v)
	}
	return x
}

// get returns the value of name; ok is false when there is none.
func (x *keyTable[V]) get(name string) (v V, ok bool) {
	return x.getKey(keyOf(name), name)
}

// getKey returns the value of name, whose key is k; ok is false when
// there is none.
func (x *keyTable[V]) getKey(k nameKey, name string) (v V, ok bool) {
	if p := x.find(k, name); p != nil {
		return *p, true
	}
	return v, false
}

// find returns where the value of name, whose key is k, is in x (not to
// be changed), or nil: for values too large to copy on the hot path.
func (x *keyTable[V]) find(k nameKey, name string) *V {
	mask := uint64(len(x.slots) - 1)
	for i := k.hash() & mask; i < uint64(len(x.slots)); i = (i + 1) & mask {
		if x.slots[i].key.n == 0 {
			break
		}
		if x.holds(i, k, name) {
			return &x.slots[i].v
		}
	}
	return nil
}

// first returns where the value of name, whose key is k and its hash h,
// is in x when the slot its probe starts at holds it and the name is
// short, else nil: the step of find that finds most names, small enough
// to be inlined on the hot path, which calls find when it returns nil.
func (x *keyTable[V]) first(k nameKey, h uint64) *V {
	i := h & uint64(len(x.slots)-1)
	if i < uint64(len(x.slots)) && x.slots[i].key == k && k.n-1 < shortKeyLength {
		return &x.slots[i].v
	}
	return nil
}

// holds reports whether slot i holds key k of name.
func (x *keyTable[V]) holds(i uint64, k nameKey, name string) bool {
	return x.slots[i].key == k && (!k.long() || (*x.long)[i] == name)
}

// put sets the value of name in x, which must be x's own (not shared
// with a published snapshot) and have room for it.
func (x *keyTable[V]) put(name string, v V) {
	if name != "" {
		x.putKey(keyOf(name), name, v)
	}
}

// putKey implements put for the key of name.
func (x *keyTable[V]) putKey(k nameKey, name string, v V) {
	mask := uint64(len(x.slots) - 1)
	i := k.hash() & mask
	for x.slots[i].key.n != 0 && !x.holds(i, k, name) {
		i = (i + 1) & mask
	}
	x.slots[i] = keySlot[V]{key: k, v: v}
	if k.long() {
		if x.long == nil {
			long := make([]string, len(x.slots))
			x.long = &long
		}
		(*x.long)[i] = name
	}
}

// len returns the number of entries of x.
func (x *keyTable[V]) len() int {
	n := 0
	for i := range x.slots {
		if x.slots[i].key.n != 0 {
			n++
		}
	}
	return n
}

// with returns a copy of x with the value of name set, growing it when it
// would be more than half full.
func (x keyTable[V]) with(name string, v V) keyTable[V] {
	return x.withAll([]string{name}, func(string) V { return v })
}

// withAll returns a copy of x with the values of names set, value giving
// each, growing it when it would be more than half full.
func (x keyTable[V]) withAll(names []string, value func(name string) V) keyTable[V] {
	n := len(names) // at most, with those of x when one of names is new
	for _, name := range names {
		if x.find(keyOf(name), name) == nil {
			n += x.len()
			break
		}
	}
	var next keyTable[V]
	if len(x.slots) > 0 && 2*n <= len(x.slots) {
		next.slots = slices.Clone(x.slots)
		if x.long != nil {
			long := slices.Clone(*x.long)
			next.long = &long
		}
	} else {
		next = newKeyTable[V](n)
		for i, sl := range x.slots {
			if sl.key.n == 0 {
				continue
			}
			long := ""
			if sl.key.long() {
				long = (*x.long)[i]
			}
			next.putKey(sl.key, long, sl.v)
		}
	}
	for _, name := range names {
		next.put(name, value(name))
	}
	return next
}

// tableRef is what a database's table lookup finds: the compiled table
// and, beside it in the slot, its columns' layout and their effective
// grades, so that a decision on a table whose layout is shared with
// others (and so in cache) reads the table's slot alone: with the key, a
// slot is 64 bytes, one cache line. A table without a layout (see
// Index.layoutOf) is looked up in its own colSlots.
type tableRef struct {
	t      *tableEntry
	layout *colLayout
	grades packedGrades
}

// packedGrades are the effective grades of up to maxLayoutColumns
// columns by index, 4 bits each.
type packedGrades [3]uint64

// maxLayoutColumns is the most columns of a table with a layout, and
// maxLayoutGrade the largest grade it may have.
const (
	maxLayoutColumns = 48
	maxLayoutGrade   = 15
)

// layoutColumns is the most columns of a table given a layout: a
// variable, so that tests can take the paths of tables without one.
var layoutColumns = maxLayoutColumns

// grade returns the grade of column ci.
func (p *packedGrades) grade(ci int) uint8 {
	return uint8(p[ci>>4]>>(uint(ci&15)*4)) & maxLayoutGrade
}

// colLayout finds the index of a column of a table by the id of its name:
// a colSlots whose grades are column indexes, shared by the tables whose
// column names are the same in the same order; names are those names.
type colLayout struct {
	slots colSlots
	names []string
}

// column returns the index of the column whose name id is id; ok is
// false when there is none.
func (l *colLayout) column(id uint32) (ci int, ok bool) {
	_, c, ok := l.slots.find(id)
	return int(c), ok
}

// tableRefs returns the table lookup of tables.
func tableRefs(tables []*tableEntry) keyTable[tableRef] {
	x := newKeyTable[tableRef](len(tables))
	for _, t := range tables {
		x.put(t.name, t.ref())
	}
	return x
}

// dbRefs returns the database lookup of dbs: each database's table lookup.
func dbRefs(dbs map[string]*dbEntry) keyTable[keyTable[tableRef]] {
	x := newKeyTable[keyTable[tableRef]](len(dbs))
	for name, db := range dbs {
		x.put(name, db.tableIx)
	}
	return x
}

// colSlots is a table's column lookup: an immutable open-addressed hash
// table over the interned ids of its column names (see snapshot.colIDs),
// probed linearly. Its first half are the slots, each a word of the id
// (24 bits; 0: empty) and the column's effective grade; its second half
// the index of the column of each slot, read only off the hot path. An id
// is a whole key, so a lookup compares the word in the slot it reads and
// never a name: for a table of 30 columns the slots are 256 bytes, and a
// decision reads one cache line of them.
type colSlots []uint32

// maxColID is the largest id a colSlots holds (24 bits); a table with a
// column whose name has a larger id has no colSlots and is looked up by
// name. A variable, so that tests can take that path.
var maxColID uint32 = 1<<24 - 1

// colSlotOf returns where the probe for id starts in a table of mask+1
// slots: a multiplicative hash, as ids are dense small integers.
func colSlotOf(id uint32, mask uint64) uint64 {
	return (uint64(id) * 0x9e3779b97f4a7c15 >> 32) & mask
}

// newColSlots returns the column lookup of columns whose name ids are ids
// and effective grades grades, by index; nil when an id is too large. Of
// two columns of one name the later is found, as a lookup by name finds
// it.
func newColSlots(ids []uint32, grades []uint8) colSlots {
	n := slotsFor(len(ids))
	x := make(colSlots, 2*n)
	mask := uint64(n - 1)
	for ci, id := range ids {
		if id > maxColID {
			return nil
		}
		i := colSlotOf(id, mask)
		for x[i] != 0 && x[i]>>8 != id {
			i = (i + 1) & mask
		}
		x[i] = id<<8 | uint32(grades[ci])
		x[uint64(n)+i] = uint32(ci)
	}
	return x
}

// find returns the slot of the column whose name id is id (never 0) and
// the column's effective grade; ok is false when the table has no such
// column.
func (x colSlots) find(id uint32) (slot int, grade uint8, ok bool) {
	n := uint64(len(x) / 2)
	mask := n - 1
	for i := colSlotOf(id, mask); i < n; i = (i + 1) & mask {
		switch v := x[i]; v >> 8 {
		case id:
			return int(i), uint8(v), true
		case 0:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// col returns the index of the column in slot i.
func (x colSlots) col(slot int) int { return int(x[len(x)/2+slot]) }
