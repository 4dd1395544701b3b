package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDenseKeysMatchSortedStore feeds the same keys to a store that may
// count them densely and to one forced to sort them, and checks that the
// counts and samples agree: ids in order and shuffled, repeats, negative
// values, ranges wider than the budget, keys that leave the dense store
// half way (a hash, a row past 2³²), and budgets of every size.
func TestDenseKeysMatchSortedStore(t *testing.T) {
	type key struct {
		k0, k1 uint64
		row    int64
		prefix string
	}
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := map[string]func(n int) []key{
		"ids in order": func(n int) []key {
			var ks []key
			for i := range n {
				ks = append(ks, key{k0: uint64(100_000 + i), row: int64(i + 1)})
			}
			return ks
		},
		"shuffled ids with repeats": func(n int) []key {
			var ks []key
			for i := range n {
				ks = append(ks, key{k0: uint64(rng.IntN(n)), row: int64(i + 1)})
			}
			return ks
		},
		"descending": func(n int) []key {
			var ks []key
			for i := range n {
				ks = append(ks, key{k0: uint64(5*n - 3*i), row: int64(i + 1)})
			}
			return ks
		},
		"negative and positive": func(n int) []key {
			var ks []key
			for i := range n {
				v := int64(rng.IntN(20)) - 10
				ks = append(ks, key{k0: uint64(v), row: int64(i + 1)})
			}
			return ks
		},
		"near the top of uint64": func(n int) []key {
			var ks []key
			for i := range n {
				ks = append(ks, key{k0: math.MaxUint64 - uint64(rng.IntN(50)), row: int64(i + 1)})
			}
			return ks
		},
		"wide range": func(n int) []key {
			var ks []key
			for i := range n {
				ks = append(ks, key{k0: uint64(rng.IntN(n)) * 1_000_003, row: int64(i + 1)})
			}
			return ks
		},
		"a hash half way": func(n int) []key {
			var ks []key
			for i := range n {
				k := key{k0: uint64(rng.IntN(n/2 + 1)), row: int64(i + 1)}
				if i == n/2 {
					k = key{k0: rng.Uint64(), k1: rng.Uint64(), row: k.row, prefix: "x"}
				}
				ks = append(ks, k)
			}
			return ks
		},
		"a row past 2^32": func(n int) []key {
			var ks []key
			for i := range n {
				row := int64(i + 1)
				if i > n/2 {
					row += math.MaxUint32
				}
				ks = append(ks, key{k0: uint64(rng.IntN(n/3 + 1)), row: row})
			}
			return ks
		},
	}
	for name, shape := range shapes {
		for _, n := range []int{1, 50, 5000} {
			for _, budget := range []int64{1 << 10, 64 << 10, 1 << 20} {
				keys := shape(n)
				run := func(forceSorted bool) (keyStats, bool) {
					s := newKeyStore(t.TempDir(), budget)
					s.sorted = forceSorted
					for _, k := range keys {
						if err := s.add(k.k0, k.k1, k.row, k.prefix); err != nil {
							t.Fatal(err)
						}
					}
					dense := s.dense != nil
					st, err := s.finish(context.Background(), 7)
					if err != nil {
						t.Fatal(err)
					}
					return st, dense
				}
				want, _ := run(true)
				got, dense := run(false)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s, %d keys, budget %d (dense to the end: %v):\n got %+v\nwant %+v", name, n, budget, dense, got, want)
				}
				if name == "ids in order" && n == 5000 && budget == 1<<20 && !dense {
					t.Errorf("5000 ids in order left the dense store")
				}
			}
		}
	}
}
