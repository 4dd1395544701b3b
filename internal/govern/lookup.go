package govern

import (
	"math/bits"
	"math/rand/v2"
	"slices"
)

// The lookup tables of the decision path: where Allowed finds a database,
// a table, a column and a group by name. They are immutable open-addressed
// hash tables, probed linearly, with no interface calls and no locks, whose
// slots hold the keys, so that a decision is four short hashes and, for a
// table not in cache, two cache misses: the table's slot and the column's.

// hashSeed and hashKey seed the hashes of names, at random per process,
// so that names cannot be chosen to collide.
var (
	hashSeed = rand.Uint64()
	hashKey  = rand.Uint64() | 1
)

// hashMul multiplies a length into a hash (wyhash's first constant).
const hashMul = 0xa0761d6478bd642f

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
func (k nameKey) hash() uint64 { return mix(k.a^hashSeed^k.n*hashMul, k.b^hashKey) }

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
	n := x.len()
	if 2*(n+1) <= len(x.slots) {
		next := keyTable[V]{slots: slices.Clone(x.slots)}
		if x.long != nil {
			long := slices.Clone(*x.long)
			next.long = &long
		}
		next.put(name, v)
		return next
	}
	next := newKeyTable[V](n + 1)
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
	next.put(name, v)
	return next
}

// tableRef is what a database's table lookup finds: the compiled table
// and, beside it in the slot, its column lookup, so that a decision reads
// the table's slot and then the column's.
type tableRef struct {
	t       *tableEntry
	columns keyTable[colRef]
}

// tableRefs returns the table lookup of tables.
func tableRefs(tables map[string]*tableEntry) keyTable[tableRef] {
	x := newKeyTable[tableRef](len(tables))
	for name, t := range tables {
		x.put(name, tableRef{t: t, columns: t.columns})
	}
	return x
}

// colRef is what a table's column lookup finds: the column's index and
// its effective grade.
type colRef struct {
	col   uint32
	grade uint8
}
