package tables

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

// The primary key of an upsert is handled in two compact forms:
//
//   - a 128-bit hash of each key (two 64-bit maphash sums with independent
//     random seeds over a canonical encoding of the key's values), which
//     finds duplicate keys in the input and the existing rows an incoming
//     key replaces. Two different keys collide with probability about
//     n²/2¹²⁹: never, in practice;
//   - per key column, an order-preserving 64-bit prefix of each value
//     (integers and dates exactly, timestamps in microseconds, decimals
//     clamped to int64, strings by their first 8 bytes), sorted and
//     deduplicated, which tells whether a data file's lower and upper
//     bounds can hold one of the incoming keys. A prefix is monotone, so
//     "some prefix lies within the prefixes of the bounds" can only err
//     towards rewriting a file that did not need it.
//
// That is 16 bytes per key plus at most 8 per key column (less for a column
// of few distinct values, whose prefixes are compacted as they come): about
// 24 MB per million keys of a one-column key, up to ~1.25× that while the
// slices grow.

// keyHash is the 128-bit hash of one primary key.
type keyHash [2]uint64

func compareHash(a, b keyHash) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}

// keyColumn is one column of a table's primary key.
type keyColumn struct {
	name string
	id   int
	typ  iceberg.Type
	// pii is set for a column whose values must not appear in messages.
	pii bool
}

// keyHasher hashes keys; its seeds live as long as one Write.
type keyHasher struct {
	seeds [2]maphash.Seed
	buf   []byte
}

func newKeyHasher() *keyHasher {
	return &keyHasher{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// hash hashes the key in row of cols (one array per key column).
func (h *keyHasher) hash(cols []arrow.Array, row int) (keyHash, error) {
	h.buf = h.buf[:0]
	for _, a := range cols {
		var err error
		if h.buf, err = appendKeyValue(h.buf, a, row); err != nil {
			return keyHash{}, err
		}
	}
	return keyHash{maphash.Bytes(h.seeds[0], h.buf), maphash.Bytes(h.seeds[1], h.buf)}, nil
}

var errNullKey = errors.New("primary key value is null")

// appendKeyValue appends the canonical encoding of a[row]: integers,
// dates and timestamps (in µs) as 8 bytes, decimals as their 16-byte
// unscaled value, strings length-prefixed. Every encoding is
// self-delimiting, so a composite key's encodings can be concatenated.
func appendKeyValue(buf []byte, a arrow.Array, row int) ([]byte, error) {
	if a.IsNull(row) {
		return buf, errNullKey
	}
	switch a := a.(type) {
	case *array.Int32:
		return binary.BigEndian.AppendUint64(buf, uint64(int64(a.Value(row)))), nil
	case *array.Int64:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(row))), nil
	case *array.Date32:
		return binary.BigEndian.AppendUint64(buf, uint64(int64(a.Value(row)))), nil
	case *array.Timestamp:
		return binary.BigEndian.AppendUint64(buf, uint64(timestampMicros(a, row))), nil
	case *array.Decimal128:
		v := a.Value(row)
		buf = binary.BigEndian.AppendUint64(buf, uint64(v.HighBits()))
		return binary.BigEndian.AppendUint64(buf, v.LowBits()), nil
	case *array.String:
		return appendBytes(buf, a.Value(row)), nil
	case *array.LargeString:
		return appendBytes(buf, a.Value(row)), nil
	case *array.Boolean:
		if a.Value(row) {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case *array.Float64:
		v := a.Value(row)
		if v == 0 {
			v = 0 // -0 and +0 are one key
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(v)), nil
	}
	return buf, fmt.Errorf("a primary key cannot be of Arrow type %s", a.DataType())
}

func appendBytes(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// timestampMicros is a[row] in microseconds since the epoch, whatever the
// array's unit (iceberg-go stores µs; nanoseconds are truncated as its
// writer truncates them).
func timestampMicros(a *array.Timestamp, row int) int64 {
	v := int64(a.Value(row))
	switch a.DataType().(*arrow.TimestampType).Unit {
	case arrow.Second:
		return v * 1e6
	case arrow.Millisecond:
		return v * 1e3
	case arrow.Nanosecond:
		return v / 1e3
	}
	return v
}

// signedPrefix maps int64 onto uint64 preserving order.
func signedPrefix(v int64) uint64 { return uint64(v) ^ (1 << 63) }

// bytesPrefix is the first 8 bytes of s, zero-padded, as a big-endian
// number: s <= t bytewise implies bytesPrefix(s) <= bytesPrefix(t).
func bytesPrefix(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

// decimalPrefix clamps an unscaled decimal to int64, preserving order.
func decimalPrefix(v decimal128.Num) uint64 {
	hi, lo := v.HighBits(), v.LowBits()
	switch {
	case hi == 0 && lo < 1<<63, hi == -1 && lo >= 1<<63:
		return signedPrefix(int64(lo))
	case hi < 0:
		return signedPrefix(math.MinInt64)
	default:
		return signedPrefix(math.MaxInt64)
	}
}

// floatPrefix maps a float onto uint64 preserving order; NaN has none.
func floatPrefix(v float64) (uint64, bool) {
	if math.IsNaN(v) {
		return 0, false
	}
	if v == 0 {
		v = 0
	}
	bits := math.Float64bits(v)
	if bits&(1<<63) != 0 {
		return ^bits, true
	}
	return bits | 1<<63, true
}

// arrowPrefix is the order-preserving prefix of a[row]; ok is false when
// the value has no place in the order (NaN).
func arrowPrefix(a arrow.Array, row int) (p uint64, ok bool) {
	switch a := a.(type) {
	case *array.Int32:
		return signedPrefix(int64(a.Value(row))), true
	case *array.Int64:
		return signedPrefix(a.Value(row)), true
	case *array.Date32:
		return signedPrefix(int64(a.Value(row))), true
	case *array.Timestamp:
		return signedPrefix(timestampMicros(a, row)), true
	case *array.Decimal128:
		return decimalPrefix(a.Value(row)), true
	case *array.String:
		return bytesPrefix(a.Value(row)), true
	case *array.LargeString:
		return bytesPrefix(a.Value(row)), true
	case *array.Boolean:
		if a.Value(row) {
			return 1, true
		}
		return 0, true
	case *array.Float64:
		return floatPrefix(a.Value(row))
	}
	return 0, false
}

// boundPrefix decodes a manifest lower or upper bound of a column of type
// typ into its prefix; ok is false when it cannot be read or ordered.
func boundPrefix(typ iceberg.Type, b []byte) (uint64, bool) {
	if b == nil {
		return 0, false
	}
	lit, err := iceberg.LiteralFromBytes(typ, b)
	if err != nil && len(b) == 4 && typ.Equals(iceberg.PrimitiveTypes.Int64) {
		// A bound written before the column was promoted from int.
		lit, err = iceberg.LiteralFromBytes(iceberg.PrimitiveTypes.Int32, b)
	}
	if err != nil {
		return 0, false
	}
	switch v := lit.(type) {
	case iceberg.Int32Literal:
		return signedPrefix(int64(v)), true
	case iceberg.Int64Literal:
		return signedPrefix(int64(v)), true
	case iceberg.DateLiteral:
		return signedPrefix(int64(v)), true
	case iceberg.TimestampLiteral:
		return signedPrefix(int64(v)), true
	case iceberg.DecimalLiteral:
		return decimalPrefix(v.Val), true
	case iceberg.StringLiteral:
		return bytesPrefix(string(v)), true
	case iceberg.BoolLiteral:
		if v {
			return 1, true
		}
		return 0, true
	case iceberg.Float64Literal:
		return floatPrefix(float64(v))
	}
	return 0, false
}

// keySet is the set of keys of an upsert's input.
type keySet struct {
	cols     []keyColumn
	hasher   *keyHasher
	hashes   []keyHash
	prefixes [][]uint64 // per key column
	// compactAt[i] is the length at which prefixes[i] is next sorted and
	// deduplicated.
	compactAt []int
	// unordered[i] is set when a value of column i has no prefix: files
	// cannot be pruned on that column.
	unordered []bool
	// rows, when set (an upsert with dedupe LAST), hashes each input row
	// whole, and rowHashes holds those hashes in input order (as hashes
	// holds the keys until seal sorts them), so that the last row of a
	// duplicated key can be told from the earlier ones once the input is
	// read.
	rows      *rowHasher
	rowHashes []uint64
}

// lastRow is a key that occurs more than once in an upsert's input, and
// the hash of the row that is its last occurrence.
type lastRow struct {
	key keyHash
	row uint64
}

// rowHasher hashes whole rows: a 64-bit maphash over the canonical
// encodings of a row's values in the table's column order, a null as a 0
// byte, any other value as a 1 byte and its key encoding. A row read back
// from a data file hashes as the input row it was written from. Two rows of
// one key collide with probability about 2⁻⁶⁴.
type rowHasher struct {
	names []string
	seed  maphash.Seed
	buf   []byte
}

func newRowHasher(names []string) *rowHasher {
	return &rowHasher{names: names, seed: maphash.MakeSeed()}
}

// columns returns rec's arrays of the hasher's columns, found by name; a
// column rec lacks is nil, and hashes as nulls (as it reads back).
func (h *rowHasher) columns(rec arrow.RecordBatch) []arrow.Array {
	out := make([]arrow.Array, len(h.names))
	for i, n := range h.names {
		if idx := rec.Schema().FieldIndices(n); len(idx) == 1 {
			out[i] = rec.Column(idx[0])
		}
	}
	return out
}

// hash hashes row of cols (from columns).
func (h *rowHasher) hash(cols []arrow.Array, row int) (uint64, error) {
	h.buf = h.buf[:0]
	for i, a := range cols {
		if a == nil || a.IsNull(row) {
			h.buf = append(h.buf, 0)
			continue
		}
		h.buf = append(h.buf, 1)
		var err error
		if h.buf, err = appendKeyValue(h.buf, a, row); err != nil {
			return 0, fmt.Errorf("column %s: %w", h.names[i], err)
		}
	}
	return maphash.Bytes(h.seed, h.buf), nil
}

// minCompact is the least number of prefixes a column collects before they
// are compacted.
const minCompact = 1 << 16

func newKeySet(cols []keyColumn) *keySet {
	return &keySet{
		cols:      cols,
		hasher:    newKeyHasher(),
		prefixes:  make([][]uint64, len(cols)),
		compactAt: slices.Repeat([]int{minCompact}, len(cols)),
		unordered: make([]bool, len(cols)),
	}
}

// keyArrays returns rec's arrays of the key columns, found by name.
func keyArrays(rec arrow.RecordBatch, cols []keyColumn) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(cols))
	for i, c := range cols {
		idx := rec.Schema().FieldIndices(c.name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("records have no column %q of the primary key", c.name)
		}
		out[i] = rec.Column(idx[0])
	}
	return out, nil
}

// add adds the keys of one batch of the input.
func (k *keySet) add(rec arrow.RecordBatch) error {
	arrs, err := keyArrays(rec, k.cols)
	if err != nil {
		return err
	}
	var rowCols []arrow.Array
	if k.rows != nil {
		rowCols = k.rows.columns(rec)
	}
	for row := 0; row < int(rec.NumRows()); row++ {
		h, err := k.hasher.hash(arrs, row)
		if err != nil {
			return fmt.Errorf("primary key (%s): %w", k.describe(arrs, row), err)
		}
		if k.rows != nil {
			rh, err := k.rows.hash(rowCols, row)
			if err != nil {
				return fmt.Errorf("row of primary key (%s): %w", k.describe(arrs, row), err)
			}
			k.rowHashes = append(k.rowHashes, rh)
		}
		k.hashes = append(k.hashes, h)
		for i, a := range arrs {
			if p, ok := arrowPrefix(a, row); ok {
				k.prefixes[i] = append(k.prefixes[i], p)
			} else {
				k.unordered[i] = true
			}
		}
	}
	for i := range k.prefixes {
		if len(k.prefixes[i]) >= k.compactAt[i] {
			k.compact(i)
			k.compactAt[i] = max(2*len(k.prefixes[i]), minCompact)
		}
	}
	return nil
}

// compact sorts and deduplicates the prefixes of key column i.
func (k *keySet) compact(i int) {
	slices.Sort(k.prefixes[i])
	k.prefixes[i] = slices.Compact(k.prefixes[i])
}

// seal sorts the set once the input is read, and reports a hash that occurs
// twice (a duplicate key), if any.
func (k *keySet) seal() (dup keyHash, found bool) {
	slices.SortFunc(k.hashes, compareHash)
	for i := range k.prefixes {
		k.compact(i)
	}
	for i := 1; i < len(k.hashes); i++ {
		if k.hashes[i] == k.hashes[i-1] {
			return k.hashes[i], true
		}
	}
	return keyHash{}, false
}

// sealLast is seal for an upsert with dedupe LAST (the set must have been
// made with trackRows): it keeps each key once and returns, sorted by key,
// every key that occurs more than once with the hash of its last row in
// input order. While it runs it needs 8 bytes per key more than the set.
func (k *keySet) sealLast() []lastRow {
	// hashes[i] and rowHashes[i] are the key and row hash of input row i:
	// order the row numbers by key, then by position, and the last of
	// each run of one key is the row that wins.
	perm := make([]int, len(k.hashes))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int {
		if c := compareHash(k.hashes[a], k.hashes[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var last []lastRow
	for i := 0; i < len(perm); {
		j := i + 1
		for j < len(perm) && k.hashes[perm[j]] == k.hashes[perm[i]] {
			j++
		}
		if j-i > 1 {
			last = append(last, lastRow{key: k.hashes[perm[i]], row: k.rowHashes[perm[j-1]]})
		}
		i = j
	}
	k.rowHashes = nil
	slices.SortFunc(k.hashes, compareHash)
	k.hashes = slices.Clip(slices.Compact(k.hashes))
	for i := range k.prefixes {
		k.compact(i)
	}
	return last
}

// trackRows makes the set hash each input row whole too (see rows), for
// sealLast; names are the table's columns.
func (k *keySet) trackRows(names []string) { k.rows = newRowHasher(names) }

// findLast returns the index in last (from sealLast) of key h, if any.
func findLast(last []lastRow, h keyHash) (int, bool) {
	return slices.BinarySearchFunc(last, h, func(e lastRow, h keyHash) int { return compareHash(e.key, h) })
}

func (k *keySet) len() int { return len(k.hashes) }

// contains reports whether h is one of the input's keys.
func (k *keySet) contains(h keyHash) bool {
	_, found := slices.BinarySearchFunc(k.hashes, h, compareHash)
	return found
}

// mayHoldKeys reports whether a data file, by the lower and upper bounds of
// the key columns in its manifest entry, can hold one of the input's keys.
// Missing or unreadable bounds (e.g. a PII key column, whose metrics are
// off) can hold anything.
func (k *keySet) mayHoldKeys(lower, upper map[int][]byte) bool {
	for i, c := range k.cols {
		if k.unordered[i] {
			continue
		}
		lo, okLo := boundPrefix(c.typ, lower[c.id])
		hi, okHi := boundPrefix(c.typ, upper[c.id])
		if !okLo || !okHi {
			continue
		}
		ps := k.prefixes[i]
		j, _ := slices.BinarySearch(ps, lo)
		if j == len(ps) || ps[j] > hi {
			return false
		}
	}
	return true
}

// describe formats the key in row of arrs as "col=value, ...".
func (k *keySet) describe(arrs []arrow.Array, row int) string {
	parts := make([]string, len(arrs))
	for i, a := range arrs {
		v := "null"
		switch {
		case k.cols[i].pii:
			v = "(PII, not shown)"
		case !a.IsNull(row):
			v = a.ValueStr(row)
		}
		parts[i] = k.cols[i].name + "=" + v
	}
	return strings.Join(parts, ", ")
}
