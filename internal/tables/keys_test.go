package tables

import (
	"encoding"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
)

// arrayOf builds an Arrow array of typ from Go values (nil is null).
func arrayOf(t *testing.T, typ arrow.DataType, values ...any) arrow.Array {
	t.Helper()
	b := array.NewBuilder(memory.DefaultAllocator, typ)
	defer b.Release()
	for _, v := range values {
		if v == nil {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.Int32Builder:
			b.Append(v.(int32))
		case *array.Int64Builder:
			b.Append(v.(int64))
		case *array.StringBuilder:
			b.Append(v.(string))
		case *array.Decimal128Builder:
			b.Append(v.(decimal128.Num))
		case *array.Float64Builder:
			b.Append(v.(float64))
		case *array.Date32Builder:
			b.Append(v.(arrow.Date32))
		case *array.TimestampBuilder:
			b.Append(v.(arrow.Timestamp))
		default:
			t.Fatalf("no builder for %T", b)
		}
	}
	a := b.NewArray()
	t.Cleanup(a.Release)
	return a
}

// TestPrefixesKeepOrder checks that the prefix of sorted values never
// decreases, for every key type.
func TestPrefixesKeepOrder(t *testing.T) {
	big, _ := decimal128.FromString("99999999999999999999999999.99", 38, 2)
	for name, a := range map[string]arrow.Array{
		"int64":  arrayOf(t, arrow.PrimitiveTypes.Int64, int64(math.MinInt64), int64(-5), int64(-1), int64(0), int64(1), int64(math.MaxInt64)),
		"int32":  arrayOf(t, arrow.PrimitiveTypes.Int32, int32(math.MinInt32), int32(-1), int32(0), int32(7)),
		"string": arrayOf(t, arrow.BinaryTypes.String, "", "a", "a\x00", "ab", "abcdefgh", "abcdefghZ", "abcdefgi", "김", "김철수", "하"),
		"decimal": arrayOf(t, &arrow.Decimal128Type{Precision: 38, Scale: 2}, big.Negate(), decimal128.FromI64(-100), decimal128.FromI64(0),
			decimal128.FromI64(1234567890123456), big),
		"float": arrayOf(t, arrow.PrimitiveTypes.Float64, math.Inf(-1), -2.5, math.Copysign(0, -1), 0.0, 1e-300, 3.0, math.Inf(1)),
	} {
		var last uint64
		for i := 0; i < a.Len(); i++ {
			p, ok := arrowPrefix(a, i)
			if !ok {
				t.Fatalf("%s[%d]: no prefix", name, i)
			}
			if i > 0 && p < last {
				t.Errorf("%s: prefix of %s is below that of the value before it", name, a.ValueStr(i))
			}
			last = p
		}
	}
	if _, ok := arrowPrefix(arrayOf(t, arrow.PrimitiveTypes.Float64, math.NaN()), 0); ok {
		t.Error("NaN has a prefix")
	}
}

// TestBoundPrefix checks that a manifest bound decodes to the prefix of
// the same value in an Arrow array.
func TestBoundPrefix(t *testing.T) {
	dec := decimal128.FromI64(-1234567890123456)
	for _, tc := range []struct {
		typ iceberg.Type
		lit encoding.BinaryMarshaler
		arr arrow.Array
	}{
		{iceberg.PrimitiveTypes.Int64, iceberg.Int64Literal(-42), arrayOf(t, arrow.PrimitiveTypes.Int64, int64(-42))},
		// A bound written while the column was still an int.
		{iceberg.PrimitiveTypes.Int64, iceberg.Int32Literal(-42), arrayOf(t, arrow.PrimitiveTypes.Int64, int64(-42))},
		{iceberg.PrimitiveTypes.Int32, iceberg.Int32Literal(7), arrayOf(t, arrow.PrimitiveTypes.Int32, int32(7))},
		{iceberg.PrimitiveTypes.String, iceberg.StringLiteral("김철수"), arrayOf(t, arrow.BinaryTypes.String, "김철수")},
		{iceberg.DecimalTypeOf(18, 2), iceberg.DecimalLiteral{Val: dec, Scale: 2}, arrayOf(t, &arrow.Decimal128Type{Precision: 18, Scale: 2}, dec)},
		{iceberg.PrimitiveTypes.Date, iceberg.DateLiteral(19000), arrayOf(t, arrow.FixedWidthTypes.Date32, arrow.Date32(19000))},
		{iceberg.PrimitiveTypes.TimestampTz, iceberg.TimestampLiteral(1700000000123456), arrayOf(t, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, arrow.Timestamp(1700000000123456))},
		{iceberg.PrimitiveTypes.TimestampTz, iceberg.TimestampLiteral(1700000000123456), arrayOf(t, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, arrow.Timestamp(1700000000123456789))},
	} {
		b, err := tc.lit.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := boundPrefix(tc.typ, b)
		want, _ := arrowPrefix(tc.arr, 0)
		if !ok || got != want {
			t.Errorf("%s bound %v: prefix %x (%v), want %x", tc.typ, tc.lit, got, ok, want)
		}
	}
	if _, ok := boundPrefix(iceberg.PrimitiveTypes.Int64, nil); ok {
		t.Error("a missing bound has a prefix")
	}
	if _, ok := boundPrefix(iceberg.PrimitiveTypes.Int64, []byte{1, 2, 3}); ok {
		t.Error("a malformed bound has a prefix")
	}
}

func TestKeyHash(t *testing.T) {
	h := newKeyHasher()
	i32 := arrayOf(t, arrow.PrimitiveTypes.Int32, int32(5), int32(6))
	i64 := arrayOf(t, arrow.PrimitiveTypes.Int64, int64(5), nil)
	s := arrayOf(t, arrow.BinaryTypes.String, "ab", "a")
	s2 := arrayOf(t, arrow.BinaryTypes.String, "c", "bc")

	a, _ := h.hash([]arrow.Array{i32}, 0)
	b, _ := h.hash([]arrow.Array{i64}, 0)
	if a != b {
		t.Error("5 as int and as long hash differently; a promoted key column would stop matching")
	}
	if c, _ := h.hash([]arrow.Array{i32}, 1); c == a {
		t.Error("5 and 6 hash alike")
	}
	// ("ab","c") and ("a","bc") concatenate alike; the encoding must not.
	x, _ := h.hash([]arrow.Array{s, s2}, 0)
	y, _ := h.hash([]arrow.Array{s, s2}, 1)
	if x == y {
		t.Error(`("ab","c") and ("a","bc") hash alike`)
	}
	if _, err := h.hash([]arrow.Array{i64}, 1); !errors.Is(err, errNullKey) {
		t.Errorf("null key: %v", err)
	}
	if _, err := h.hash([]arrow.Array{arrayOf(t, arrow.PrimitiveTypes.Float64, 1.0)}, 0); err != nil {
		t.Errorf("double key: %v", err)
	}
}

func TestKeySet(t *testing.T) {
	cols := []keyColumn{{name: "id", id: 1, typ: iceberg.PrimitiveTypes.Int64}, {name: "day", id: 2, typ: iceberg.PrimitiveTypes.Date}}
	schema := arrow.NewSchema([]arrow.Field{{Name: "day", Type: arrow.FixedWidthTypes.Date32}, {Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := func(ids []int64, days []arrow.Date32) arrow.RecordBatch {
		vals := make([]any, len(ids))
		dvals := make([]any, len(days))
		for i := range ids {
			vals[i], dvals[i] = ids[i], days[i]
		}
		r := array.NewRecordBatch(schema, []arrow.Array{arrayOf(t, arrow.FixedWidthTypes.Date32, dvals...), arrayOf(t, arrow.PrimitiveTypes.Int64, vals...)}, int64(len(ids)))
		t.Cleanup(r.Release)
		return r
	}
	k := newKeySet(cols)
	if err := k.add(rec([]int64{10, 20, 30}, []arrow.Date32{100, 100, 100})); err != nil {
		t.Fatal(err)
	}
	if err := k.add(rec([]int64{40}, []arrow.Date32{200})); err != nil {
		t.Fatal(err)
	}
	if _, dup := k.seal(); dup {
		t.Fatal("duplicate found in distinct keys")
	}
	if k.len() != 4 || len(k.prefixes[1]) != 2 {
		t.Errorf("%d keys, %d day prefixes; want 4 and 2", k.len(), len(k.prefixes[1]))
	}
	hashOf := func(k *keySet, id int64, day arrow.Date32) keyHash {
		arrs, err := keyArrays(rec([]int64{id}, []arrow.Date32{day}), cols)
		if err != nil {
			t.Fatal(err)
		}
		h, err := k.hasher.hash(arrs, 0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if !k.contains(hashOf(k, 20, 100)) || k.contains(hashOf(k, 20, 200)) || k.contains(hashOf(k, 25, 100)) {
		t.Error("contains is wrong")
	}

	bound := func(v encoding.BinaryMarshaler) []byte {
		b, _ := v.MarshalBinary()
		return b
	}
	file := func(lo, hi int64, dlo, dhi int32) (map[int][]byte, map[int][]byte) {
		return map[int][]byte{1: bound(iceberg.Int64Literal(lo)), 2: bound(iceberg.DateLiteral(dlo))},
			map[int][]byte{1: bound(iceberg.Int64Literal(hi)), 2: bound(iceberg.DateLiteral(dhi))}
	}
	for _, tc := range []struct {
		lo, hi   int64
		dlo, dhi int32
		want     bool
	}{
		{11, 19, 0, 500, false}, // between keys
		{15, 25, 0, 500, true},  // holds 20
		{0, 5, 0, 500, false},   // below all
		{41, 90, 0, 500, false}, // above all
		{30, 30, 0, 500, true},  // exactly one key
		{0, 100, 101, 199, false},
		{0, 100, 150, 250, true},
	} {
		lo, hi := file(tc.lo, tc.hi, tc.dlo, tc.dhi)
		if got := k.mayHoldKeys(lo, hi); got != tc.want {
			t.Errorf("file id [%d,%d] day [%d,%d]: mayHoldKeys = %v", tc.lo, tc.hi, tc.dlo, tc.dhi, got)
		}
	}
	if !k.mayHoldKeys(nil, nil) {
		t.Error("a file without bounds (metrics off) must be examined")
	}

	d := newKeySet(cols)
	_ = d.add(rec([]int64{1, 2}, []arrow.Date32{1, 1}))
	_ = d.add(rec([]int64{3, 2}, []arrow.Date32{1, 1}))
	if h, dup := d.seal(); !dup || h != hashOf(d, 2, 1) {
		t.Error("duplicate key not found")
	}
}
