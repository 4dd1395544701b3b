package eval

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSpillEncodingRoundTrip encodes sorted entries as a run does and
// decodes them back: dense integers, repeats, hash keys sharing k0, the
// largest row number and prefixes of every length, truncated or not.
func TestSpillEncodingRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in []entry
	for i := range 5000 {
		e := entry{row: uint64(rng.Int64N(1 << 56))}
		switch i % 4 {
		case 0: // dense integer keys
			e.k0 = uint64(100_000 + i/2)
		case 1: // hash keys
			e.k0, e.k1 = rng.Uint64(), rng.Uint64()
		case 2: // same k0, different k1
			e.k0, e.k1 = 42, rng.Uint64()
		case 3: // negative integers as uint64
			e.k0 = uint64(-int64(i))
		}
		n := i % 17
		tag := uint64(n)
		if i%5 == 0 {
			tag |= 0x80
		}
		e.row |= tag << 56
		var p [16]byte
		for j := range n {
			p[j] = byte('a' + rng.IntN(26))
		}
		e.p0 = uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 | uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
		e.p1 = uint64(p[8]) | uint64(p[9])<<8 | uint64(p[10])<<16 | uint64(p[11])<<24 | uint64(p[12])<<32 | uint64(p[13])<<40 | uint64(p[14])<<48 | uint64(p[15])<<56
		in = append(in, e)
	}
	in = append(in, entry{k0: ^uint64(0), k1: ^uint64(0), row: 1<<56 - 1})
	slices.SortFunc(in, cmpEntry)

	var buf []byte
	var prev entry
	for i := range in {
		buf = appendEntry(buf, &prev, &in[i])
	}
	var out []entry
	prev = entry{}
	for at := 0; at < len(buf); {
		n := decodeEntry(buf[at:], &prev)
		if n == 0 {
			t.Fatalf("entry %d at byte %d does not decode", len(out), at)
		}
		out = append(out, prev)
		at += n
	}
	if !slices.Equal(in, out) {
		t.Fatalf("decoded %d entries, not the %d encoded ones", len(out), len(in))
	}
	for cut := range maxEncodedEntry {
		last := appendEntry(nil, &entry{}, &in[len(in)-1])
		if cut < len(last) && decodeEntry(last[:cut], &entry{}) != 0 {
			t.Fatalf("a truncated entry of %d bytes decoded", cut)
		}
	}

	// Distinct integer ids, rows numbered below ten million: what a
	// uniqueness rule on an id column spills.
	var dense []byte
	prev = entry{}
	for i := range 10_000 {
		dense = appendEntry(dense, &prev, &entry{k0: uint64(100_000 + i), row: uint64(rng.IntN(10_000_000))})
	}
	if per := float64(len(dense)) / 10_000; per > 7 {
		t.Errorf("dense integer keys take %.1f bytes each, want at most 7", per)
	}
}
