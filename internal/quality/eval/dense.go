package eval

import (
	"cmp"
	"math"
	"slices"
)

// denseKeys holds the keys of a key store while they are exact values (k1
// 0, no prefix: integers, dates, timestamps) within a range narrow enough
// for one slot per value: the slot of a value holds its first row, and the
// rows after the first are listed. Counting is then exact without sorting
// or spilling anything: an id column's keys usually fill such a range.
// When a key does not fit (a wide range, a hash, too many repeats for the
// budget, a row past 2³²-1) the store moves the keys to its sorted buffer
// and goes on as usual (see keyStore.add).
type denseKeys struct {
	base   uint64   // the value of first[0]
	first  []uint32 // by value-base: the value's first row, 0 for none
	repeat []entry  // the rows after the first of a value
	keys   int64
	budget int64 // bytes for first and repeat together
}

// minDenseSlots is the smallest range a dense store starts with.
const minDenseSlots = 1 << 12

// add records value v on row, or reports that it cannot.
func (d *denseKeys) add(v uint64, row int64) bool {
	if row <= 0 || row > math.MaxUint32 {
		return false
	}
	if d.first == nil {
		d.base = min(v-min(v, minDenseSlots/2), math.MaxUint64-minDenseSlots+1)
		d.first = make([]uint32, minDenseSlots)
	}
	if v < d.base || v-d.base >= uint64(len(d.first)) {
		if !d.widen(v) {
			return false
		}
	}
	slot := &d.first[v-d.base]
	if *slot != 0 {
		if int64(len(d.repeat)+1)*entrySize+int64(len(d.first))*4 > d.budget {
			return false
		}
		d.repeat = append(d.repeat, entry{k0: v, row: uint64(row)})
	} else {
		*slot = uint32(row)
	}
	d.keys++
	return true
}

// widen grows the range to hold v, with room to grow on in v's direction
// (ids mostly come in order), within the budget.
func (d *denseKeys) widen(v uint64) bool {
	lo, hi := min(v, d.base), max(v, d.base+uint64(len(d.first))-1)
	need := hi - lo + 1
	free := d.budget - int64(len(d.repeat))*entrySize
	if need == 0 || free < 0 || need > uint64(free/4) {
		return false // the whole uint64 range, or past the budget
	}
	room := min(max(need, minDenseSlots), uint64(free/4)-need)
	base := lo
	if v < d.base {
		room = min(room, lo)
		base = lo - room // the room below
	} else {
		room = min(room, math.MaxUint64-hi) // the room above
	}
	grown := make([]uint32, need+room)
	copy(grown[d.base-base:], d.first)
	d.base, d.first = base, grown
	return true
}

// each calls fn with every key held, for the move to a sorted store.
func (d *denseKeys) each(fn func(v uint64, row int64) error) error {
	for i, r := range d.first {
		if r != 0 {
			if err := fn(d.base+uint64(i), int64(r)); err != nil {
				return err
			}
		}
	}
	for _, e := range d.repeat {
		if err := fn(e.k0, e.rowNum()); err != nil {
			return err
		}
	}
	return nil
}

// stats counts as keyStore.finish does: the keys, the distinct ones, those
// that occur once, the rows of those that repeat, and the maxSamples rows
// of repeated keys with the smallest row numbers.
func (d *denseKeys) stats(maxSamples int) keyStats {
	st := keyStats{keys: d.keys, distinct: d.keys - int64(len(d.repeat))}
	slices.SortFunc(d.repeat, func(a, b entry) int { return cmp.Compare(a.k0, b.k0) })
	var candidates []entry
	for i := 0; i < len(d.repeat); {
		j := i
		for j < len(d.repeat) && d.repeat[j].k0 == d.repeat[i].k0 {
			j++
		}
		v := d.repeat[i].k0
		st.dupRows += int64(j-i) + 1
		candidates = append(candidates, entry{k0: v, row: uint64(d.first[v-d.base])})
		candidates = append(candidates, d.repeat[i:j]...)
		i = j
	}
	st.singles = st.distinct - int64(len(candidates)-len(d.repeat))
	slices.SortFunc(candidates, func(a, b entry) int { return cmp.Compare(a.rowNum(), b.rowNum()) })
	if maxSamples > 0 && len(candidates) > 0 {
		st.samples = candidates[:min(maxSamples, len(candidates))]
	}
	return st
}
